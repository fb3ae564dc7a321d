// The remote identity of an mTLS peer from its SPIFFE ID, as Istio issues them
// (spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT): parses the URI SAN Envoy reports for
// the peer certificate, checks the trust domain against the plugin's list and looks the service
// account up in the identity map the agent published. Anything else (another URI shape, an
// untrusted trust domain, a service account the map lacks) has no identity: the caller denies.
// Runs once per connection and publish, not per request, so it may allocate.
import { IdentityTable } from './identity-table';

export class SpiffeResolution {
  identity: u32 = 0; // 0 when `problem` is set
  problem: string = '';
}

// Lowercase letters, digits, '.', '-', '_' (SPIFFE ID spec, trust domain name).
export function isTrustDomainName(text: string): bool {
  if (text.length == 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f)) return false;
  }
  return true;
}

export function resolveSpiffeId(uri: string, trustDomains: Array<string>, table: IdentityTable): SpiffeResolution {
  const result = new SpiffeResolution();
  const shape = 'spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT';
  if (uri.length == 0) {
    result.problem = 'the peer presented a certificate without a URI SAN; expected a SPIFFE ID (' + shape + ')';
    return result;
  }
  const quoted = '"' + uri + '"';
  if (!uri.startsWith('spiffe://')) {
    result.problem = 'the peer certificate\'s URI SAN ' + quoted + ' is not a SPIFFE ID (' + shape + ')';
    return result;
  }
  const rest = uri.substring(9);
  const parts = rest.split('/');
  if (parts.length != 5 || !isTrustDomainName(parts[0]) || parts[1] != 'ns' || !isPathSegment(parts[2]) || parts[3] != 'sa' || !isPathSegment(parts[4])) {
    result.problem = 'the peer\'s SPIFFE ID ' + quoted + ' does not name a service account (' + shape + ')';
    return result;
  }
  if (!trustDomains.includes(parts[0])) {
    result.problem = 'the peer\'s SPIFFE ID ' + quoted + ' is from trust domain "' + parts[0] + '", which this plugin does not trust (spiffeTrustDomains: ' + trustDomains.join(', ') + ')';
    return result;
  }
  const identity = table.serviceAccountIdentity(parts[2], parts[4]);
  if (identity < 0) {
    result.problem = 'the peer\'s SPIFFE ID ' + quoted + ' names service account ' + parts[2] + '/' + parts[4] + ', which no endpoint Weir knows runs under';
    return result;
  }
  result.identity = <u32>identity;
  return result;
}

// A SPIFFE path segment: letters, digits, '.', '-', '_', and not "." or "..".
function isPathSegment(text: string): bool {
  if (text.length == 0 || text == '.' || text == '..') return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
    if (!(letter || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f)) return false;
  }
  return true;
}

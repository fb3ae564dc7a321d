// Identity claims through the Kubernetes API, as Cilium's CRD identity mode keeps them: one
// cluster-scoped cilium.io/v2 CiliumIdentity per number, named by the number, with the label set in
// `security-labels`. Creating an object whose name exists fails with 409 Conflict, so the API
// server accepts exactly one claim per number; the loser reads who holds it and probes on
// (identity-table.ts). The canonical label text is also kept in an annotation, which is what a
// replica compares.
import { labelSetKey, parseLabelKey, type Label } from '../identity/labels.ts';
import type { IdentityClaims } from '../identity/identity-table.ts';
import { KubeApiError, type KubeClient, type KubeObject } from './kube-client.ts';

export const CILIUM_IDENTITY_PATH = '/apis/cilium.io/v2/ciliumidentities';
const LABELS_ANNOTATION = 'weir.dev/labels';

export function kubeIdentityClaims(client: KubeClient): IdentityClaims {
  const holderOf = (object: KubeObject): string => object.metadata.annotations?.[LABELS_ANNOTATION] ?? keyOfSecurityLabels(object['security-labels']);
  return {
    // Nothing cheaper than probing: the claim below finds an existing identity on its first try.
    lookup: async () => undefined,
    async claim(identity, key) {
      const body = {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumIdentity',
        metadata: { name: String(identity), annotations: { [LABELS_ANNOTATION]: key } },
        'security-labels': securityLabels(key),
      };
      try {
        await client.post(CILIUM_IDENTITY_PATH, body);
        return key;
      } catch (error) {
        if (!(error instanceof KubeApiError) || error.status !== 409) throw error;
      }
      return holderOf(await client.get(`${CILIUM_IDENTITY_PATH}/${identity}`));
    },
  };
}

/** `k8s:app=web;k8s:io.kubernetes.pod.namespace=ns` -> { "k8s:app": "web", ... }, as Cilium writes them. */
function securityLabels(key: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const text of key.split(';')) {
    if (text === '') continue;
    const equals = text.indexOf('=');
    labels[equals < 0 ? text : text.slice(0, equals)] = equals < 0 ? '' : text.slice(equals + 1);
  }
  return labels;
}

function keyOfSecurityLabels(value: unknown): string {
  const labels: Label[] = [];
  for (const [raw, labelValue] of Object.entries((value ?? {}) as Record<string, string>)) labels.push({ ...parseLabelKey(raw, 'unspec'), value: labelValue });
  return labelSetKey(labels);
}

// weir-istiod: the test harness's istiod. It runs Istio's own pilot-discovery server
// (istio.io/istio/pilot/pkg/bootstrap) with Istio's in-memory fake Kubernetes client, the way
// Istio's server tests do, so that WasmPlugins take istiod's real Kubernetes config path (the
// WasmPlugin -> TrafficExtension conversion runs only there). Objects are applied through an HTTP
// endpoint that validates them as a cluster would: against the CustomResourceDefinitions applied
// before (Istio's published schemas, structural and CEL rules) and through istiod's own validating
// webhook. It also validates manifests without a server, and fetches a Wasm OCI image with the
// code pilot-agent uses. Built by the set-up (scripts/setup.ts) into .weir/; see docs/istio.md.
package main

import (
	"fmt"
	"os"
	"syscall"
)

const usage = `weir-istiod: Istio's istiod with an in-memory Kubernetes, for Weir's tests

  weir-istiod serve --grpc-addr HOST:PORT --http-addr HOST:PORT --monitoring-addr HOST:PORT --apply-addr HOST:PORT [--mesh-config FILE]
      istiod (xDS on --grpc-addr, /debug/syncz on --http-addr); POST YAML to http://APPLY/apply
      (or /delete) to apply or delete objects as kubectl would; CRDs first.
  weir-istiod validate --crds FILE [--crds FILE] MANIFEST...
      validates every object against the CRDs and istiod's validating webhook; exit 1 if any fails.
  weir-istiod oci-fetch --layout DIR --repository NAME --tag TAG [--sha256 DIGEST]
      serves the OCI image layout from an in-process registry on loopback and fetches
      oci://HOST/NAME:TAG with Istio's Wasm image cache (pilot-agent's code); prints JSON.
`

// istiodEnvironment is what istiod must see at start-up: its feature flags are read from the
// environment when its packages initialise, before main runs, so the process re-executes itself
// with them. Upstream Envoy has no istio.metadata_exchange filter.
var istiodEnvironment = map[string]string{
	"PILOT_ENABLE_METADATA_EXCHANGE": "false",
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		reexecWithIstiodEnvironment()
		err = serve(os.Args[2:])
	case "validate":
		err = validate(os.Args[2:])
	case "oci-fetch":
		err = ociFetch(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "weir-istiod %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func reexecWithIstiodEnvironment() {
	missing := false
	for key, value := range istiodEnvironment {
		if os.Getenv(key) != value {
			missing = true
			_ = os.Setenv(key, value)
		}
	}
	if !missing {
		return
	}
	executable, err := os.Executable()
	if err == nil {
		err = syscall.Exec(executable, os.Args, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "weir-istiod: cannot re-execute with istiod's environment: %v\n", err)
	os.Exit(1)
}

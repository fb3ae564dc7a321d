package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"istio.io/istio/pkg/util/sets"
	"istio.io/istio/pkg/wasm"
)

type ociFetchResult struct {
	Reference      string `json:"reference"`
	ManifestDigest string `json:"manifestDigest"`
	ModulePath     string `json:"modulePath"`
	ModuleSHA256   string `json:"moduleSha256"`
	ModuleBytes    int    `json:"moduleBytes"`
}

// ociFetch pushes the image of an OCI image layout into an in-process registry (go-containerregistry's,
// the library Istio's fetcher is built on) and pulls it back through Istio's Wasm module cache, the
// code pilot-agent runs for a WasmPlugin with an oci:// URL.
func ociFetch(args []string) error {
	var layoutDir, repository, tag, digest string
	flags := flag.NewFlagSet("oci-fetch", flag.ContinueOnError)
	flags.StringVar(&layoutDir, "layout", "", "OCI image layout directory (weir istio image)")
	flags.StringVar(&repository, "repository", "weir/memcache", "repository to push to")
	flags.StringVar(&tag, "tag", "latest", "tag to push as")
	flags.StringVar(&digest, "sha256", "", "expected manifest digest, as a WasmPlugin's sha256 field")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if layoutDir == "" {
		return errors.New("--layout DIR is required")
	}
	index, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		return fmt.Errorf("%s is not an OCI image layout: %v", layoutDir, err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return err
	}
	if len(manifest.Manifests) != 1 {
		return fmt.Errorf("%s: expected one image in index.json, found %d", layoutDir, len(manifest.Manifests))
	}
	image, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		return err
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer listener.Close()
	go func() { _ = http.Serve(listener, registry.New(registry.Logger(nil))) }()
	host := listener.Addr().String()
	reference, err := name.ParseReference(fmt.Sprintf("%s/%s:%s", host, repository, tag), name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(reference, image); err != nil {
		return fmt.Errorf("push to the local registry: %v", err)
	}

	cacheDir, err := os.MkdirTemp("", "weir-wasm-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cacheDir)
	cache := wasm.NewLocalFileCache(cacheDir, wasm.Options{InsecureRegistries: sets.New(host)})
	defer cache.Cleanup()
	url := fmt.Sprintf("oci://%s/%s:%s", host, repository, tag)
	path, err := cache.Get(url, wasm.GetOptions{Checksum: digest, RequestTimeout: 60 * time.Second, PullPolicy: wasm.Always})
	if err != nil {
		return fmt.Errorf("Istio's Wasm cache could not fetch %s: %v", url, err)
	}
	module, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	imageDigest, err := image.Digest()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(module)
	return json.NewEncoder(os.Stdout).Encode(ociFetchResult{
		Reference:      url,
		ManifestDigest: imageDigest.Hex,
		ModulePath:     path,
		ModuleSHA256:   hex.EncodeToString(sum[:]),
		ModuleBytes:    len(module),
	})
}

// The go-control-plane anchor of `npm run bench:xds -- --server weir,gcp`: go-control-plane's
// stock xDS server (server.NewServer over a SnapshotCache in ADS mode, one gRPC port) serving the
// benchmark fixture's resources, so Weir's server is measured against what a user would pick
// instead, on the same load, in the same run.
//
// The resources come byte for byte from bench/xds/fixture.ts, written by the orchestrator into a
// record file (bench/xds/fixture-file.ts). Each one travels as a google.protobuf.Empty whose
// unknown fields are the resource's encoded bytes: go-control-plane marshals it back to exactly
// those bytes, so the Any values on the wire are Weir's, and no typed message is needed for the
// weir.* types (the stock Snapshot rejects type URLs it does not know; benchSnapshot below is the
// custom ResourceSnapshot the cache supports for that).
//
// Control protocol: the same commands and reports as bench/xds/server-process.ts (bench/xds/ipc.ts),
// as JSON lines on stdin and stdout instead of Node IPC. Exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Record kinds of the fixture file (bench/xds/fixture-file.ts).
const (
	recordResource    = 1
	recordTypeVersion = 2
	everyNode         = -1
)

type options struct {
	resourcesFile        string
	changeResourcesFiles []string
	nodes                int
	batchWindow          time.Duration
	profileChange        string
	returnFreedMemory    bool
}

func main() {
	opts := parseOptions()
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "gcp-anchor: %v\n", err)
		os.Exit(1)
	}
}

func parseOptions() options {
	var opts options
	var batchWindowMs int
	flag.StringVar(&opts.resourcesFile, "resources", "", "fixture file with every node's initial config")
	var changeResources string
	flag.StringVar(&changeResources, "change-resources", "", "fixture files with the changed configs, comma-separated; the Nth prepare-change loads the Nth")
	flag.IntVar(&opts.nodes, "nodes", 0, "number of benchmark proxies (bench-node-0 ...)")
	flag.IntVar(&batchWindowMs, "batch-window-ms", 100, "debounce before SetSnapshot, like Weir's batching window; 0 = at once")
	flag.StringVar(&opts.profileChange, "profile-change", "", "write a Go CPU profile of each change to this file, with -change<N> before its extension")
	flag.BoolVar(&opts.returnFreedMemory, "return-freed-memory", false, "before reading RSS, return freed pages to the OS (debug.FreeOSMemory), as bench:xds --server-malloc-trim makes glibc do for Weir")
	flag.Parse()
	opts.batchWindow = time.Duration(batchWindowMs) * time.Millisecond
	if changeResources != "" {
		opts.changeResourcesFiles = strings.Split(changeResources, ",")
	}
	return opts
}

func run(opts options) error {
	if opts.resourcesFile == "" || len(opts.changeResourcesFiles) == 0 || opts.nodes < 1 {
		return errors.New("usage: gcp-anchor --nodes N --resources FILE --change-resources FILE[,FILE...] [--batch-window-ms MS]")
	}
	started := time.Now()
	initial, err := loadSnapshots(opts.resourcesFile, opts.nodes)
	if err != nil {
		return err
	}
	buildMs := msSince(started)

	ctx := context.Background()
	cache := cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
	for index, snapshot := range initial {
		if err := cache.SetSnapshot(ctx, nodeID(index), snapshot); err != nil {
			return fmt.Errorf("initial snapshot of %s: %w", nodeID(index), err)
		}
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	grpcServer := grpc.NewServer()
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, serverv3.NewServer(ctx, cache, nil))
	go func() {
		if err := grpcServer.Serve(listener); err != nil {
			fmt.Fprintf(os.Stderr, "gcp-anchor: gRPC server stopped: %v\n", err)
		}
	}()

	anchor := &anchor{opts: opts, cache: cache, out: json.NewEncoder(os.Stdout)}
	anchor.report(map[string]any{"kind": "ready", "port": listener.Addr().(*net.TCPAddr).Port, "buildMs": buildMs})
	return anchor.serveCommands(os.Stdin)
}

type anchor struct {
	opts  options
	cache cachev3.SnapshotCache

	mu             sync.Mutex
	out            *json.Encoder
	next           []cachev3.ResourceSnapshot
	changesLoaded  int
	flushStartedAt float64
	flushMs        float64
	profiling      bool
	changeApplied  bool
}

type command struct {
	Kind           string `json:"kind"`
	CollectGarbage bool   `json:"collectGarbage"`
}

func (a *anchor) serveCommands(input io.Reader) error {
	scanner := bufio.NewScanner(input)
	for scanner.Scan() {
		var cmd command
		if err := json.Unmarshal(scanner.Bytes(), &cmd); err != nil {
			return fmt.Errorf("command %q: %w", scanner.Text(), err)
		}
		switch cmd.Kind {
		case "stats":
			a.reportStats(cmd.CollectGarbage)
		case "prepare-change":
			if err := a.prepareChange(); err != nil {
				a.report(map[string]any{"kind": "failed", "message": err.Error()})
			}
		case "apply-change":
			a.applyChange()
		default:
			return fmt.Errorf("unknown command %q", cmd.Kind)
		}
	}
	return scanner.Err()
}

func (a *anchor) report(fields map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.out.Encode(fields); err != nil {
		fmt.Fprintf(os.Stderr, "gcp-anchor: cannot report %v: %v\n", fields["kind"], err)
	}
}

func (a *anchor) reportStats(collectGarbage bool) {
	a.mu.Lock()
	if a.profiling && a.changeApplied {
		pprof.StopCPUProfile()
		a.profiling = false
	}
	flushStartedAt, flushMs := a.flushStartedAt, a.flushMs
	a.mu.Unlock()
	if collectGarbage && a.opts.returnFreedMemory {
		debug.FreeOSMemory()
	} else if collectGarbage {
		// As Weir's server process runs gc(): freed pages stay with the runtime (Go's background
		// scavenger returns them over minutes, as glibc keeps Node's).
		runtime.GC()
	}
	var memory runtime.MemStats
	runtime.ReadMemStats(&memory)
	a.report(map[string]any{
		"kind":           "stats",
		"rssBytes":       residentBytes(),
		"heapUsedBytes":  memory.HeapAlloc,
		"heapTotalBytes": memory.HeapSys,
		// Goroutine stacks: what the Go runtime holds outside its heap.
		"externalBytes":  memory.StackInuse,
		"cpuMicros":      cpuMicros(),
		"openWatches":    -1,
		"flushStartedAt": flushStartedAt,
		"flushMs":        flushMs,
	})
}

func (a *anchor) prepareChange() error {
	started := time.Now()
	if a.changesLoaded >= len(a.opts.changeResourcesFiles) {
		return fmt.Errorf("prepare-change %d: only %d --change-resources files were given", a.changesLoaded+1, len(a.opts.changeResourcesFiles))
	}
	next, err := loadSnapshots(a.opts.changeResourcesFiles[a.changesLoaded], a.opts.nodes)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.next = next
	a.changesLoaded++
	a.changeApplied = false
	a.mu.Unlock()
	// Loading the next revision is not part of the change: its garbage is collected before the
	// change is measured, as Weir's server process collects the garbage of building its own.
	runtime.GC()
	if a.opts.profileChange != "" {
		name := changeProfileFile(a.opts.profileChange, a.changesLoaded)
		file, err := os.Create(name)
		if err != nil {
			return fmt.Errorf("CPU profile %s: %w", name, err)
		}
		if err := pprof.StartCPUProfile(file); err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
		a.mu.Lock()
		a.profiling = true
		a.mu.Unlock()
	}
	a.report(map[string]any{"kind": "prepared", "buildMs": msSince(started)})
	return nil
}

// applyChange sets every node's next snapshot, after the batching window as Weir's cache does
// (a control plane built on go-control-plane debounces its inputs the same way).
func (a *anchor) applyChange() {
	startedAt := epochMs()
	started := time.Now()
	a.mu.Lock()
	a.changeApplied = true
	next := a.next
	a.mu.Unlock()
	setAll := func() {
		flushStarted := epochMs()
		begun := time.Now()
		for index, snapshot := range next {
			if err := a.cache.SetSnapshot(context.Background(), nodeID(index), snapshot); err != nil {
				a.report(map[string]any{"kind": "failed", "message": fmt.Sprintf("SetSnapshot %s: %v", nodeID(index), err)})
				return
			}
		}
		a.mu.Lock()
		a.flushStartedAt, a.flushMs = flushStarted, msSince(begun)
		a.mu.Unlock()
	}
	if a.opts.batchWindow > 0 {
		time.AfterFunc(a.opts.batchWindow, setAll)
	} else {
		setAll()
	}
	a.report(map[string]any{"kind": "applied", "startedAt": startedAt, "setSnapshotMs": msSince(started)})
}

// benchSnapshot is a cachev3.ResourceSnapshot over opaque resources of any type URL. Type sets
// every node shares (listeners, clusters, filters, the identity map) are one object for all.
type benchSnapshot struct {
	types map[string]*typeSet
}

type typeSet struct {
	version   string
	resources map[string]types.Resource
	withTTL   map[string]types.ResourceWithTTL
	hashes    map[string]string
}

var _ cachev3.ResourceSnapshot = (*benchSnapshot)(nil)

func (s *benchSnapshot) GetVersion(typeURL string) string {
	if set := s.types[typeURL]; set != nil {
		return set.version
	}
	return ""
}

func (s *benchSnapshot) GetResourcesAndTTL(typeURL string) map[string]types.ResourceWithTTL {
	if set := s.types[typeURL]; set != nil {
		return set.withTTL
	}
	return nil
}

func (s *benchSnapshot) GetResources(typeURL string) map[string]types.Resource {
	if set := s.types[typeURL]; set != nil {
		return set.resources
	}
	return nil
}

// ConstructVersionMap: the per-resource versions (sha256 of the bytes, as go-control-plane's
// HashResource computes them) are built when the file is loaded.
func (s *benchSnapshot) ConstructVersionMap() error { return nil }

func (s *benchSnapshot) GetVersionMap(typeURL string) map[string]string {
	if set := s.types[typeURL]; set != nil {
		return set.hashes
	}
	return nil
}

func newTypeSet() *typeSet {
	return &typeSet{resources: map[string]types.Resource{}, withTTL: map[string]types.ResourceWithTTL{}, hashes: map[string]string{}}
}

func (t *typeSet) add(name string, value []byte) {
	message := &emptypb.Empty{}
	message.ProtoReflect().SetUnknown(value)
	t.resources[name] = message
	t.withTTL[name] = types.ResourceWithTTL{Resource: message}
	t.hashes[name] = cachev3.HashResource(value)
}

// loadSnapshots reads a fixture file: shared type sets once, then each node's own.
func loadSnapshots(file string, nodes int) ([]cachev3.ResourceSnapshot, error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("fixture file: %w", err)
	}
	shared := map[string]*typeSet{}
	own := make([]map[string]*typeSet, nodes)
	setFor := func(node int, typeURL string) (*typeSet, error) {
		sets := shared
		if node != everyNode {
			if node < 0 || node >= nodes {
				return nil, fmt.Errorf("%s: node %d outside 0..%d", file, node, nodes-1)
			}
			if own[node] == nil {
				own[node] = map[string]*typeSet{}
			}
			sets = own[node]
		}
		set := sets[typeURL]
		if set == nil {
			set = newTypeSet()
			sets[typeURL] = set
		}
		return set, nil
	}
	reader := &recordReader{content: content, file: file}
	for !reader.done() {
		kind := reader.u8()
		node := int(int32(reader.u32()))
		typeURL := reader.text()
		name := reader.text()
		var value []byte
		if kind == recordResource {
			value = reader.bytes()
		}
		if reader.err != nil {
			return nil, reader.err
		}
		set, err := setFor(node, typeURL)
		if err != nil {
			return nil, err
		}
		switch kind {
		case recordResource:
			set.add(name, value)
		case recordTypeVersion:
			set.version = name
		default:
			return nil, fmt.Errorf("%s: unknown record kind %d at byte %d", file, kind, reader.offset)
		}
	}
	snapshots := make([]cachev3.ResourceSnapshot, nodes)
	for index := range snapshots {
		sets := make(map[string]*typeSet, len(shared)+len(own[index]))
		for typeURL, set := range shared {
			sets[typeURL] = set
		}
		for typeURL, set := range own[index] {
			sets[typeURL] = set
		}
		snapshots[index] = &benchSnapshot{types: sets}
	}
	return snapshots, nil
}

// recordReader reads the little-endian records of a fixture file; the first error sticks.
type recordReader struct {
	content []byte
	offset  int
	file    string
	err     error
}

func (r *recordReader) done() bool { return r.err != nil || r.offset >= len(r.content) }

func (r *recordReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if r.offset+n > len(r.content) {
		r.err = fmt.Errorf("%s: truncated at byte %d (needs %d more)", r.file, r.offset, n)
		return nil
	}
	out := r.content[r.offset : r.offset+n]
	r.offset += n
	return out
}

func (r *recordReader) u8() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *recordReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *recordReader) bytes() []byte { return r.take(int(r.u32())) }

func (r *recordReader) text() string { return string(r.bytes()) }

// changeProfileFile names change N's profile: file with -change<N> before its extension.
func changeProfileFile(file string, change int) string {
	extension := filepath.Ext(file)
	return fmt.Sprintf("%s-change%d%s", strings.TrimSuffix(file, extension), change, extension)
}

func nodeID(index int) string { return "bench-node-" + strconv.Itoa(index) }

func epochMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }

func msSince(start time.Time) float64 { return float64(time.Since(start).Nanoseconds()) / 1e6 }

func cpuMicros() int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return -1
	}
	return usage.Utime.Nano()/1000 + usage.Stime.Nano()/1000
}

// residentBytes reads RSS from /proc/self/statm (second field, in pages).
func residentBytes() int64 {
	content, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	fields := strings.Fields(string(content))
	if len(fields) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

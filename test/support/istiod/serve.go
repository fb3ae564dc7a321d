package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"
	"unsafe"

	"istio.io/istio/pilot/pkg/bootstrap"
	kubecontroller "istio.io/istio/pilot/pkg/serviceregistry/kube/controller"
	"istio.io/istio/pkg/kube"
)

type serveOptions struct {
	grpcAddr, httpAddr, monitoringAddr, applyAddr, meshConfig string
}

// serve runs istiod until SIGTERM or SIGINT.
func serve(args []string) error {
	var options serveOptions
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.StringVar(&options.grpcAddr, "grpc-addr", "", "plaintext xDS address (istiod's 15010)")
	flags.StringVar(&options.httpAddr, "http-addr", "", "HTTP address with /debug/syncz (istiod's 8080)")
	flags.StringVar(&options.monitoringAddr, "monitoring-addr", "", "monitoring address (istiod's 15014)")
	flags.StringVar(&options.applyAddr, "apply-addr", "", "address of the apply endpoint (POST /apply, /delete)")
	flags.StringVar(&options.meshConfig, "mesh-config", "", "MeshConfig YAML file (default: Istio's defaults)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if options.grpcAddr == "" || options.httpAddr == "" || options.monitoringAddr == "" || options.applyAddr == "" {
		return errors.New("--grpc-addr, --http-addr, --monitoring-addr and --apply-addr are required")
	}

	client := kube.NewFakeClient()
	server, err := bootstrap.NewServer(pilotArguments(options), withKubeClient(client))
	if err != nil {
		return fmt.Errorf("istiod did not initialise: %v", err)
	}
	applier := newApplier(client)
	applyListener, err := net.Listen("tcp", options.applyAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on --apply-addr %s: %v", options.applyAddr, err)
	}
	stop := make(chan struct{})
	if err := server.Start(stop); err != nil {
		return fmt.Errorf("istiod did not start: %v", err)
	}
	go func() { _ = http.Serve(applyListener, applier.routes()) }()
	fmt.Printf("weir-istiod: istiod serving xDS on %s, debug on %s, apply on %s\n", options.grpcAddr, options.httpAddr, options.applyAddr)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	close(stop)
	server.WaitUntilCompletion()
	return nil
}

func pilotArguments(options serveOptions) *bootstrap.PilotArgs {
	return bootstrap.NewPilotArgs(func(p *bootstrap.PilotArgs) {
		p.Namespace = "istio-system"
		p.PodName = "istiod-weir-test"
		p.ServerOptions = bootstrap.DiscoveryServerOptions{
			HTTPAddr:       options.httpAddr,
			GRPCAddr:       options.grpcAddr,
			MonitoringAddr: options.monitoringAddr,
			// No 15012 (xDS over Istio's mTLS) and no separate webhook port: the proxies have no
			// istio-agent to get certificates, and objects are validated by the apply endpoint.
			SecureGRPCAddr: "",
			HTTPSAddr:      "",
		}
		p.RegistryOptions = bootstrap.RegistryOptions{
			Registries:  []string{"Kubernetes"},
			KubeOptions: kubecontroller.Options{DomainSuffix: "cluster.local"},
		}
		p.MeshConfigFile = options.meshConfig
		p.ShutdownDuration = 100 * time.Millisecond
	})
}

// withKubeClient hands istiod the fake client before it builds its controllers. Istio's server
// tests assign the unexported field from inside the package; from outside, reflection is the only
// way short of patching istiod.
func withKubeClient(client kube.Client) func(*bootstrap.Server) {
	return func(server *bootstrap.Server) {
		field := reflect.ValueOf(server).Elem().FieldByName("kubeClient")
		reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Set(reflect.ValueOf(client))
	}
}

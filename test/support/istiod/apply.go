package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"istio.io/istio/pkg/config/schema/gvr"
	"istio.io/istio/pkg/kube"
)

// applier stores objects in the fake Kubernetes client the way the API server would after
// admission: CRDs register their kinds (and their schemas for validation); every other object is
// validated, then created or updated with a new resourceVersion, which the informers see.
type applier struct {
	client  kube.Client
	mu      sync.Mutex
	crds    []apiextensions.CustomResourceDefinition
	checker *objectChecker
	version int
}

type appliedObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    string `json:"action"`
}

func newApplier(client kube.Client) *applier {
	return &applier{client: client}
}

func (a *applier) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, true) })
	mux.HandleFunc("POST /delete", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, false) })
	return mux
}

func (a *applier) serve(w http.ResponseWriter, r *http.Request, isApply bool) {
	each := a.remove
	if isApply {
		each = a.apply
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	objects, err := decodeManifests(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	results := []appliedObject{}
	if isApply {
		crds, rest := splitCRDs(objects)
		if len(crds) > 0 {
			if err := a.registerCRDs(crds); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			for _, crd := range crds {
				results = append(results, appliedObject{Kind: crd.GetKind(), Name: crd.GetName(), Action: "registered"})
			}
		}
		objects = rest
	}
	for _, object := range objects {
		result, err := each(object)
		if err != nil {
			// As kubectl reports an admission denial: which object, and why.
			http.Error(w, fmt.Sprintf("%s %s/%s: %v", object.GetKind(), object.GetNamespace(), object.GetName(), err), http.StatusUnprocessableEntity)
			return
		}
		results = append(results, result)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(results)
}

func (a *applier) apply(object *unstructured.Unstructured) (appliedObject, error) {
	result := appliedObject{Kind: object.GetKind(), Namespace: object.GetNamespace(), Name: object.GetName()}
	if a.checker == nil {
		return result, fmt.Errorf("no CustomResourceDefinitions applied yet; apply Istio's CRDs first")
	}
	if err := a.checker.check(object); err != nil {
		return result, err
	}
	tracker, resource, err := a.trackerFor(object.GroupVersionKind())
	if err != nil {
		return result, err
	}
	a.version++
	object.SetResourceVersion(strconv.Itoa(a.version))
	object.SetGeneration(int64(a.version))
	typed, err := typedObject(object)
	if err != nil {
		return result, err
	}
	_, err = tracker.Get(resource, object.GetNamespace(), object.GetName())
	switch {
	case kerrors.IsNotFound(err):
		result.Action = "created"
		err = tracker.Create(resource, typed, object.GetNamespace())
	case err == nil:
		result.Action = "updated"
		err = tracker.Update(resource, typed, object.GetNamespace())
	}
	return result, err
}

func (a *applier) remove(object *unstructured.Unstructured) (appliedObject, error) {
	result := appliedObject{Kind: object.GetKind(), Namespace: object.GetNamespace(), Name: object.GetName(), Action: "deleted"}
	tracker, resource, err := a.trackerFor(object.GroupVersionKind())
	if err != nil {
		return result, err
	}
	return result, tracker.Delete(resource, object.GetNamespace(), object.GetName())
}

// registerCRDs adds the schemas to the ones objects are validated against and tells istiod's CRD
// watcher that the kinds exist (it watches CRD metadata, as Istio's clienttest.MakeCRD feeds it).
func (a *applier) registerCRDs(objects []*unstructured.Unstructured) error {
	crds := append([]apiextensions.CustomResourceDefinition{}, a.crds...)
	for _, object := range objects {
		crd, err := internalCRD(object)
		if err != nil {
			return fmt.Errorf("CustomResourceDefinition %s: %v", object.GetName(), err)
		}
		crds = append(crds, crd)
	}
	checker, err := newObjectChecker(crds)
	if err != nil {
		return err
	}
	metadataClient, ok := a.client.Metadata().(*metadatafake.FakeMetadataClient)
	if !ok {
		return fmt.Errorf("the Kubernetes client is not Istio's fake client")
	}
	fake := metadataClient.Resource(gvr.CustomResourceDefinition).(metadatafake.MetadataClient)
	for _, object := range objects {
		partial := &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: object.GetAPIVersion(), Kind: object.GetKind()},
			ObjectMeta: metav1.ObjectMeta{Name: object.GetName()},
		}
		if _, err := fake.CreateFake(partial, metav1.CreateOptions{}); err != nil && !kerrors.IsAlreadyExists(err) {
			return err
		}
	}
	a.crds, a.checker = crds, checker
	return nil
}

type objectTracker interface {
	Tracker() clienttesting.ObjectTracker
}

// trackerFor picks the fake clientset that serves the kind: Istio's for *.istio.io, Kubernetes'
// for the core and apps groups.
func (a *applier) trackerFor(kind schema.GroupVersionKind) (clienttesting.ObjectTracker, schema.GroupVersionResource, error) {
	resource, _ := meta.UnsafeGuessKindToResource(kind)
	var clientset any
	switch kind.Group {
	case "", "apps", "discovery.k8s.io":
		clientset = a.client.Kube()
	default:
		clientset = a.client.Istio()
	}
	tracked, ok := clientset.(objectTracker)
	if !ok {
		return nil, resource, fmt.Errorf("no fake clientset for %s", kind)
	}
	return tracked.Tracker(), resource, nil
}

// typedObject converts to the Go type informers expect; JSON, not reflection, because Istio's
// specs are protobuf messages with their own JSON encoding.
func typedObject(object *unstructured.Unstructured) (runtime.Object, error) {
	typed, err := kube.IstioScheme.New(object.GroupVersionKind())
	if err != nil {
		return nil, fmt.Errorf("unknown kind %s: %v", object.GroupVersionKind(), err)
	}
	encoded, err := object.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(encoded, typed); err != nil {
		return nil, fmt.Errorf("cannot decode as %s: %v", object.GetKind(), err)
	}
	return typed, nil
}

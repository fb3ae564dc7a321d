package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"

	"istio.io/istio/pkg/config/crd"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/webhooks/validation/server"
)

var crdGroupKind = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// objectChecker admits an object as a cluster with Istio installed would: the CRD's structural
// schema and CEL rules (the API server's own validation code, through Istio's crd.Validator), then
// istiod's validating webhook (Istio's handler, called in process).
type objectChecker struct {
	schemas *crd.Validator
	webhook http.Handler
}

func newObjectChecker(crds []apiextensions.CustomResourceDefinition) (*objectChecker, error) {
	schemas, err := crd.NewValidatorFromCRDs(crds...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if _, err := server.New(server.Options{Schemas: collections.PilotGatewayAPI(), DomainSuffix: "cluster.local", Mux: mux}); err != nil {
		return nil, err
	}
	return &objectChecker{schemas: schemas, webhook: mux}, nil
}

func (c *objectChecker) check(object *unstructured.Unstructured) error {
	if !strings.HasSuffix(object.GroupVersionKind().Group, "istio.io") {
		return nil // built-in kinds: the API server's own rules, not Istio's concern
	}
	if err := c.schemas.ValidateCustomResource(object.DeepCopy()); err != nil {
		return fmt.Errorf("schema: %v", err)
	}
	return c.admit(object)
}

func (c *objectChecker) admit(object *unstructured.Unstructured) error {
	raw, err := object.MarshalJSON()
	if err != nil {
		return err
	}
	kind := object.GroupVersionKind()
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("weir-istiod"),
			Kind:      metav1.GroupVersionKind{Group: kind.Group, Version: kind.Version, Kind: kind.Kind},
			Namespace: object.GetNamespace(),
			Name:      object.GetName(),
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return err
	}
	request := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	recorder := httptest.NewRecorder()
	c.webhook.ServeHTTP(recorder, request)
	var answer admissionv1.AdmissionReview
	if err := json.Unmarshal(recorder.Body.Bytes(), &answer); err != nil || answer.Response == nil {
		return fmt.Errorf("istiod's webhook answered %d: %s", recorder.Code, recorder.Body.String())
	}
	if !answer.Response.Allowed {
		message := "denied"
		if answer.Response.Result != nil {
			message = answer.Response.Result.Message
		}
		return fmt.Errorf("istiod's validating webhook: %s", message)
	}
	return nil
}

// validate checks manifest files against CRD files without a server.
func validate(args []string) error {
	var crdFiles multiFlag
	flags := flag.NewFlagSet("validate", flag.ContinueOnError)
	flags.Var(&crdFiles, "crds", "file with CustomResourceDefinitions (repeatable)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if len(crdFiles) == 0 || flags.NArg() == 0 {
		return errors.New("give --crds FILE and at least one manifest file ('-' for stdin)")
	}
	var crds []apiextensions.CustomResourceDefinition
	for _, file := range crdFiles {
		objects, err := readManifests(file)
		if err != nil {
			return err
		}
		found, _ := splitCRDs(objects)
		for _, object := range found {
			converted, err := internalCRD(object)
			if err != nil {
				return fmt.Errorf("%s: CustomResourceDefinition %s: %v", file, object.GetName(), err)
			}
			crds = append(crds, converted)
		}
	}
	checker, err := newObjectChecker(crds)
	if err != nil {
		return err
	}
	failures := 0
	for _, file := range flags.Args() {
		objects, err := readManifests(file)
		if err != nil {
			return err
		}
		for _, object := range objects {
			name := fmt.Sprintf("%s %s/%s", object.GetKind(), object.GetNamespace(), object.GetName())
			if err := checker.check(object); err != nil {
				failures++
				fmt.Printf("INVALID %s: %v\n", name, err)
				continue
			}
			fmt.Printf("valid %s\n", name)
		}
	}
	if failures > 0 {
		return fmt.Errorf("%d object(s) invalid", failures)
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func readManifests(file string) ([]*unstructured.Unstructured, error) {
	var content []byte
	var err error
	if file == "-" {
		content, err = io.ReadAll(os.Stdin)
	} else {
		content, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	objects, err := decodeManifests(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return objects, nil
}

// decodeManifests reads a multi-document YAML or JSON stream; empty documents are skipped.
// Each document is decoded as the API server decodes it (integers as int64, not float64), which
// the CRDs' CEL rules depend on.
func decodeManifests(content []byte) ([]*unstructured.Unstructured, error) {
	decoder := kubeyaml.NewYAMLOrJSONDecoder(bytes.NewReader(content), 1<<20)
	var objects []*unstructured.Unstructured
	for index := 0; ; index++ {
		var document json.RawMessage
		err := decoder.Decode(&document)
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", index, err)
		}
		trimmed := bytes.TrimSpace(document)
		if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) || bytes.Equal(trimmed, []byte("{}")) {
			continue
		}
		object := &unstructured.Unstructured{}
		if err := object.UnmarshalJSON(trimmed); err != nil {
			return nil, fmt.Errorf("document %d: %v", index, err)
		}
		if object.GetKind() == "" || object.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: apiVersion and kind are required", index)
		}
		objects = append(objects, object)
	}
}

func splitCRDs(objects []*unstructured.Unstructured) (crds, rest []*unstructured.Unstructured) {
	for _, object := range objects {
		if object.GroupVersionKind().GroupKind() == crdGroupKind {
			crds = append(crds, object)
		} else {
			rest = append(rest, object)
		}
	}
	return crds, rest
}

func internalCRD(object *unstructured.Unstructured) (apiextensions.CustomResourceDefinition, error) {
	var external apiextensionsv1.CustomResourceDefinition
	var internal apiextensions.CustomResourceDefinition
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &external); err != nil {
		return internal, err
	}
	err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&external, &internal, nil)
	return internal, err
}

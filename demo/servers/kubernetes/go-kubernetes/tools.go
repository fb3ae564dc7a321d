//go:build tools

// Package tools pins the main packages this module builds, so that go mod tidy keeps their
// dependencies: kube-apiserver (the test API server) and kubectl (the client the tests drive).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

//go:build tools

// Package tools pins the kubelet command in this module's go.mod/go.sum. It is
// kept apart from harness/k8s on purpose: changing that module rebuilds the
// control plane for everyone, while this one only rebuilds the kubelet.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubelet"
)

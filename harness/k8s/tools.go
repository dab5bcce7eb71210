//go:build tools

// Package tools pins the Kubernetes control-plane commands in this module's
// go.mod/go.sum. The build tag keeps it out of normal builds: main packages
// cannot be imported, they are built by path in harness/build.sh.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)

//go:build tools

// Package tools pins KWOK (fake nodes and pod lifecycles driven by Stage
// resources) in this module's go.mod/go.sum; build.sh builds it by path.
// It has its own module because KWOK tracks newer client libraries than the
// Kubernetes release we build.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"

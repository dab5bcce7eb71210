// Command kubectl is the upstream kubectl, built only for the benches
// (bench/apply_many.py compares phasegate against it). It is the same main
// as k8s.io/kubernetes/cmd/kubectl, minus the cloud auth plugins the sandbox
// never uses.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}

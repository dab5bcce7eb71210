// Command etcd is the upstream etcd server, built from go.etcd.io/etcd/server/v3
// at the version pinned in ../versions.env. Debian ships etcd 3.4, older than
// Kubernetes 1.35 supports, and no release binary can be downloaded here, so we
// compile the server's own entry point. It lives in its own module so that its
// dependency versions never bend those of the Kubernetes build.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

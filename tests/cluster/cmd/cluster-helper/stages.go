package main

import (
	"io"
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// writeStages writes the stages kwokctl itself configures by default: nodes
// become Ready and renew their leases; pods become Running and Ready, pods
// owned by a Job succeed with exit code 0, deleted pods go away at once.
// They are taken from the kwok module so they always match the kwok binary.
func writeStages(w io.Writer) error {
	docs := []string{
		nodefast.DefaultNodeInit,
		nodelease.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
	}
	for i, d := range docs {
		docs[i] = strings.TrimSpace(d)
	}
	_, err := io.WriteString(w, strings.Join(docs, "\n---\n")+"\n")
	return err
}

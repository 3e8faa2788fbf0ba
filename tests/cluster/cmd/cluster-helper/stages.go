package main

import (
	"io"
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// serviceLoadBalancer stands in for a cloud load balancer controller: a
// Service of type LoadBalancer gets a loopback ingress address, so that
// `helm --wait` and `kubectl wait` on such services finish as on a cloud.
const serviceLoadBalancer = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: service-load-balancer
spec:
  resourceRef:
    apiGroup: v1
    kind: Service
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.spec.type'
      operator: 'In'
      values:
      - 'LoadBalancer'
    - key: '.status.loadBalancer.ingress'
      operator: 'DoesNotExist'
  steps:
  - patch:
      root: status
      subresource: status
      template: |
        loadBalancer:
          ingress:
          - ip: 127.0.0.1`

// writeStages writes the stages kwokctl itself configures by default: nodes
// become Ready and renew their leases; pods become Running and Ready, pods
// owned by a Job succeed with exit code 0, deleted pods go away at once.
// They are taken from the kwok module so they always match the kwok binary.
// One stage of our own follows: load balancer addresses for Services.
func writeStages(w io.Writer) error {
	docs := []string{
		nodefast.DefaultNodeInit,
		nodelease.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
		serviceLoadBalancer,
	}
	for i, d := range docs {
		docs[i] = strings.TrimSpace(d)
	}
	_, err := io.WriteString(w, strings.Join(docs, "\n---\n")+"\n")
	return err
}

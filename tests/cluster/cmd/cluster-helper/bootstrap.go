package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// provisionerName is the provisioner of the default StorageClass.
	provisionerName = "magasin.platform/kwok-hostpath"
	// storageClassName is the default StorageClass.
	storageClassName = "standard"
	// kwokNodeAnnotation marks the nodes kwok manages (--manage-nodes-with-annotation-selector).
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
)

func newClient(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "magasin-cluster-helper"
	return kubernetes.NewForConfig(cfg)
}

// bootstrap registers the simulated nodes and the default StorageClass; existing ones are kept.
func bootstrap(ctx context.Context, kubeconfig string, nodes int) error {
	client, err := newClient(kubeconfig)
	if err != nil {
		return err
	}
	for i := range nodes {
		if err := ensureNode(ctx, client, fmt.Sprintf("kwok-node-%d", i), i); err != nil {
			return err
		}
	}
	return ensureStorageClass(ctx, client)
}

func ensureNode(ctx context.Context, client *kubernetes.Clientset, name string, index int) error {
	zone := fmt.Sprintf("local-%c", 'a'+index%3)
	resources := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/arch":               "amd64",
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/hostname":           name,
				"beta.kubernetes.io/arch":          "amd64",
				"beta.kubernetes.io/os":            "linux",
				"node-role.kubernetes.io/worker":   "",
				"node.kubernetes.io/instance-type": "kwok-8cpu-32gi",
				"topology.kubernetes.io/region":    "local",
				"topology.kubernetes.io/zone":      zone,
				"type":                             "kwok",
			},
			Annotations: map[string]string{
				kwokNodeAnnotation:             "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    resources,
			Allocatable: resources,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:    "amd64",
				OperatingSystem: "linux",
			},
		},
	}
	// Nodes keep the status they are created with, as a kubelet registering
	// itself relies on; kwok's node-initialize stage then keeps that capacity.
	_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	return nil
}

func ensureStorageClass(ctx context.Context, client *kubernetes.Clientset) error {
	reclaim := corev1.PersistentVolumeReclaimDelete
	binding := storagev1.VolumeBindingImmediate
	expand := true
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name: storageClassName,
			Annotations: map[string]string{
				"storageclass.kubernetes.io/is-default-class": "true",
			},
		},
		Provisioner:          provisionerName,
		ReclaimPolicy:        &reclaim,
		VolumeBindingMode:    &binding,
		AllowVolumeExpansion: &expand,
	}
	_, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

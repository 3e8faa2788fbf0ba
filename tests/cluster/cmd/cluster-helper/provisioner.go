package main

import (
	"context"
	"fmt"
	"log"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// The PV controller in kube-controller-manager stamps claims of a class with
// an external provisioner with these annotations and then waits for a PV.
var provisionerAnnotations = []string{
	"volume.kubernetes.io/storage-provisioner",
	"volume.beta.kubernetes.io/storage-provisioner",
}

const provisionedByAnnotation = "pv.kubernetes.io/provisioned-by"

// runProvisioner plays the external provisioner of the default StorageClass:
// it creates a PV pre-bound to each claim (the real PV controller then binds
// them) and deletes released PVs it made whose reclaim policy is Delete.
// No storage exists behind the PVs; kwok never starts the pods that mount them.
func runProvisioner(ctx context.Context, kubeconfig string) error {
	client, err := newClient(kubeconfig)
	if err != nil {
		return err
	}
	// The resync retries claims whose PV could not be created the first time.
	factory := informers.NewSharedInformerFactory(client, 30*time.Second)
	claims := factory.Core().V1().PersistentVolumeClaims().Informer()
	volumes := factory.Core().V1().PersistentVolumes().Informer()
	classes := factory.Storage().V1().StorageClasses().Lister()

	onClaim := func(obj any) {
		pvc, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok || !wantsVolume(pvc) {
			return
		}
		reclaim := corev1.PersistentVolumeReclaimDelete
		if pvc.Spec.StorageClassName != nil {
			if sc, err := classes.Get(*pvc.Spec.StorageClassName); err == nil && sc.ReclaimPolicy != nil {
				reclaim = *sc.ReclaimPolicy
			}
		}
		if err := createVolume(ctx, client, pvc, reclaim); err != nil {
			log.Printf("provision %s/%s: %v", pvc.Namespace, pvc.Name, err)
		}
	}
	onVolume := func(obj any) {
		pv, ok := obj.(*corev1.PersistentVolume)
		if !ok || pv.Annotations[provisionedByAnnotation] != provisionerName ||
			pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
			pv.DeletionTimestamp != nil {
			return
		}
		err := client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			log.Printf("delete %s: %v", pv.Name, err)
			return
		}
		log.Printf("deleted released volume %s", pv.Name)
	}
	for informer, handle := range map[cache.SharedIndexInformer]func(any){claims: onClaim, volumes: onVolume} {
		if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    handle,
			UpdateFunc: func(_, obj any) { handle(obj) },
		}); err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache of %v did not sync", typ)
		}
	}
	log.Printf("provisioner %s ready", provisionerName)
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

func wantsVolume(pvc *corev1.PersistentVolumeClaim) bool {
	if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil {
		return false
	}
	for _, a := range provisionerAnnotations {
		if pvc.Annotations[a] == provisionerName {
			return true
		}
	}
	return false
}

func createVolume(ctx context.Context, client *kubernetes.Clientset, pvc *corev1.PersistentVolumeClaim,
	reclaim corev1.PersistentVolumeReclaimPolicy) error {
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return fmt.Errorf("claim requests no storage")
	}
	mode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil {
		mode = *pvc.Spec.VolumeMode
	}
	className := ""
	if pvc.Spec.StorageClassName != nil {
		className = *pvc.Spec.StorageClassName
	}
	hostPathType := corev1.HostPathDirectoryOrCreate
	name := "pvc-" + string(pvc.UID)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{provisionedByAnnotation: provisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			VolumeMode:                    &mode,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              className,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1",
				Kind:       "PersistentVolumeClaim",
				Namespace:  pvc.Namespace,
				Name:       pvc.Name,
				UID:        pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{
					Path: "/var/lib/magasin-kwok/" + name,
					Type: &hostPathType,
				},
			},
		},
	}
	_, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err == nil {
		log.Printf("provisioned %s for %s/%s", name, pvc.Namespace, pvc.Name)
	}
	return err
}

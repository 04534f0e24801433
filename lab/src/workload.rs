//! The test workload the lab runs on a deployed cluster: the guides' `kubectl create
//! deployment`, made of the bundle's busybox image (no registry is reachable).

use crate::bundle::images::BUSYBOX_IMAGE;

/// The guides' `kubectl create deployment`, one busybox replica per node: Deployment
/// `echo` (label `app: echo`) of `replicas`
/// pods, a required anti-affinity on the node's hostname keeping any two off one node.
/// Each prints a greeting naming its node, then answers every TCP connection on port 8080
/// with one line naming itself.
pub fn echo_deployment(replicas: usize) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                app: echo
      containers:
      - name: echo
        image: {BUSYBOX_IMAGE}
        imagePullPolicy: Never
        env:
        - name: NODE
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        command:
        - sh
        - -c
        - echo "hello from $(hostname) on $NODE"; while true; do echo "pong from $(hostname)" | nc -l -p 8080; done
        ports:
        - containerPort: 8080
"#
    )
}

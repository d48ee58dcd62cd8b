/**
 * The kubeadm v1.32+ default Corefile, verbatim from coredns-behaviour.md §2 (kubeadm manifests.go): the Corefile a
 * kube-dns replacement must run unchanged. Kept here once, as an independent reference: tests check that
 * Corefile.example and deploy/'s ConfigMap equal it, parse it, and run it.
 */
export const KUBEADM_COREFILE = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`;

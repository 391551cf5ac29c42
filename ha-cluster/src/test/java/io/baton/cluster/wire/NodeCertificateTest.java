package io.baton.cluster.wire;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NodeCertificateTest {

    @TempDir
    Path dir;

    @Test
    void aCertificateIsTrustedUnderItsKeyAndNamesItsNode() throws Exception {
        ClusterKeys keys = ClusterKeys.ephemeral();

        NodeCertificate.Issued issued = NodeCertificate.issue("pacs", "lb1", keys);

        assertThat(NodeCertificate.vouchedNode(issued.certificate(), "pacs", keys)).isEqualTo("lb1");
        assertThat(issued.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=baton lb1");
    }

    @Test
    void anotherKeyOrAnotherClusterIsNotTrusted() {
        NodeCertificate.Issued issued = NodeCertificate.issue("pacs", "lb1", ClusterKeys.ephemeral());

        assertThatThrownBy(() -> NodeCertificate.vouchedNode(issued.certificate(), "pacs", ClusterKeys.ephemeral()))
                .isInstanceOf(CertificateException.class).hasMessageContaining("not vouched for by a cluster key");
        ClusterKeys keys = ClusterKeys.ephemeral();
        NodeCertificate.Issued other = NodeCertificate.issue("ris", "lb1", keys);
        assertThatThrownBy(() -> NodeCertificate.vouchedNode(other.certificate(), "pacs", keys))
                .isInstanceOf(CertificateException.class).hasMessageContaining("cluster \"ris\"");
    }

    @Test
    void aVoucherCopiedIntoACertificateForAnotherKeyPairIsNotTrusted() throws Exception {
        ClusterKeys keys = ClusterKeys.ephemeral();
        X509Certificate genuine = NodeCertificate.issue("pacs", "lb1", keys).certificate();
        byte[] voucher = new Der.Reader(genuine.getExtensionValue(NodeCertificate.VOUCHER_OID)).next(Der.OCTET_STRING);
        java.security.KeyPairGenerator generator = java.security.KeyPairGenerator.getInstance("EC");
        generator.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));

        // a well-formed certificate, correctly self-signed by the attacker, with the captured voucher
        X509Certificate forged = NodeCertificate.selfSigned(generator.generateKeyPair(), "lb1", voucher);

        assertThatThrownBy(() -> NodeCertificate.vouchedNode(forged, "pacs", keys))
                .isInstanceOf(CertificateException.class).hasMessageContaining("not vouched for by a cluster key");
    }

    @Test
    void aCertificateWithoutAVoucherOrWithAMalformedOneIsNotTrusted() throws Exception {
        java.security.KeyPairGenerator generator = java.security.KeyPairGenerator.getInstance("EC");
        generator.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
        X509Certificate garbage = NodeCertificate.selfSigned(generator.generateKeyPair(), "lb1",
                new byte[] {0x30, 0x7f, 1, 2});

        assertThatThrownBy(() -> NodeCertificate.vouchedNode(garbage, "pacs", ClusterKeys.ephemeral()))
                .isInstanceOf(CertificateException.class).hasMessageContaining("malformed voucher");
    }

    @Test
    void duringARotationNodesWithTheOldKeyOnlyAndWithTheNewKeyOnlyBothTrustANodeWithBoth() throws Exception {
        Path file = dir.resolve("cluster.key");
        ClusterKeys.generate(file);
        ClusterKeys oldOnly = ClusterKeys.read(file);
        ClusterKeys.add(file);
        ClusterKeys both = ClusterKeys.read(file);
        ClusterKeys.dropOld(file);
        ClusterKeys newOnly = ClusterKeys.read(file);

        X509Certificate rotating = NodeCertificate.issue("pacs", "lb1", both).certificate();

        assertThat(NodeCertificate.vouchedNode(rotating, "pacs", oldOnly)).isEqualTo("lb1");
        assertThat(NodeCertificate.vouchedNode(rotating, "pacs", newOnly)).isEqualTo("lb1");
        assertThat(NodeCertificate.vouchedNode(NodeCertificate.issue("pacs", "lb2", oldOnly).certificate(), "pacs",
                both)).isEqualTo("lb2");
        assertThatThrownBy(() -> NodeCertificate.vouchedNode(NodeCertificate.issue("pacs", "lb2", oldOnly)
                .certificate(), "pacs", newOnly)).isInstanceOf(CertificateException.class);
    }
}

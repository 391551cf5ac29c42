package io.baton.cluster.wire;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The certificate a node shows in the cluster's TLS handshakes. Each process makes a fresh key
 * pair (it never leaves the process) and a self-signed certificate that carries, in one private
 * extension, the cluster name, the node id and one HMAC per cluster key over those and the public
 * key. A peer trusts the certificate when one of those MACs verifies under a key it holds: only a
 * holder of the cluster key can vouch for a public key, and the handshake proves that the peer
 * holds the matching private key. No CA, no files to distribute but the key file.
 */
final class NodeCertificate {

    /** A UUID-based OID (X.667, arc 2.25) of Baton's own: the node's vouchers. */
    static final String VOUCHER_OID = "2.25.194387543406007200391745387771125848741";
    private static final String ECDSA_SHA256 = "1.2.840.10045.4.3.2";
    private static final String COMMON_NAME = "2.5.4.3";
    private static final String VOUCHER_TAG = "baton-node-certificate-1";

    /** A certificate and its private key, made for the keys named by {@code keyIds}. */
    record Issued(X509Certificate certificate, PrivateKey privateKey, List<String> keyIds) {
    }

    private NodeCertificate() {
    }

    static Issued issue(String cluster, String nodeId, ClusterKeys keys) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair pair = generator.generateKeyPair();
            byte[] publicKey = pair.getPublic().getEncoded();
            List<byte[]> vouchers = new ArrayList<>();
            for (ClusterKeys.Key key : keys.keys()) {
                vouchers.add(Der.sequence(Der.utf8(key.id()),
                        Der.octets(ClusterKeys.mac(key, vouched(cluster, nodeId, publicKey)))));
            }
            byte[] extensionValue = Der.sequence(Der.utf8(cluster), Der.utf8(nodeId),
                    Der.sequence(vouchers.toArray(byte[][]::new)));
            return new Issued(selfSigned(pair, nodeId, extensionValue), pair.getPrivate(), keys.ids());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every Java runtime has EC P-256 and SHA256withECDSA", e);
        }
    }

    /** A certificate for {@code pair}'s public key, signed with its private key, carrying {@code vouchers}. */
    static X509Certificate selfSigned(KeyPair pair, String nodeId, byte[] vouchers) throws GeneralSecurityException {
        byte[] name = Der.sequence(Der.set(Der.sequence(Der.oid(COMMON_NAME), Der.utf8("baton " + nodeId))));
        byte[] algorithm = Der.sequence(Der.oid(ECDSA_SHA256));
        Instant now = Instant.now();
        byte[] tbs = Der.sequence(
                Der.explicit(0, Der.integer(BigInteger.TWO)),
                Der.integer(new BigInteger(63, new SecureRandom()).add(BigInteger.ONE)),
                algorithm,
                name,
                Der.sequence(Der.utcTime(now.minus(Duration.ofHours(1))), Der.utcTime(now.plus(Duration.ofDays(3650)))),
                name,
                pair.getPublic().getEncoded(),
                Der.explicit(3, Der.sequence(Der.sequence(Der.oid(VOUCHER_OID), Der.octets(vouchers)))));
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(pair.getPrivate());
        signer.update(tbs);
        byte[] certificate = Der.sequence(tbs, algorithm, Der.bits(signer.sign()));
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(certificate));
    }

    /**
     * The node a certificate was vouched for by a key in {@code keys}, in cluster {@code cluster}.
     *
     * @throws CertificateException saying why it is not trusted
     */
    static String vouchedNode(X509Certificate certificate, String cluster, ClusterKeys keys)
            throws CertificateException {
        byte[] extension = certificate.getExtensionValue(VOUCHER_OID);
        if (extension == null) {
            throw new CertificateException("not a Baton node certificate (no voucher)");
        }
        String certificateCluster;
        String nodeId;
        List<String> ids = new ArrayList<>();
        List<byte[]> macs = new ArrayList<>();
        try {
            Der.Reader value = new Der.Reader(new Der.Reader(extension).next(Der.OCTET_STRING)).inside(Der.SEQUENCE);
            certificateCluster = value.utf8();
            nodeId = value.utf8();
            Der.Reader vouchers = value.inside(Der.SEQUENCE);
            while (!vouchers.atEnd()) {
                if (ids.size() == ClusterKeys.MAX_KEYS) {
                    throw new CertificateException("more than " + ClusterKeys.MAX_KEYS + " vouchers");
                }
                Der.Reader voucher = vouchers.inside(Der.SEQUENCE);
                ids.add(voucher.utf8());
                macs.add(voucher.next(Der.OCTET_STRING));
            }
        } catch (Der.MalformedDerException e) {
            throw new CertificateException("a malformed voucher: " + e.getMessage());
        }
        if (!certificateCluster.equals(cluster)) {
            throw new CertificateException("vouched for cluster \"" + certificateCluster + "\", not \"" + cluster
                    + "\"");
        }
        try {
            certificate.verify(certificate.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw new CertificateException("its self-signature does not verify: " + e.getMessage());
        }
        byte[] vouched = vouched(cluster, nodeId, certificate.getPublicKey().getEncoded());
        for (ClusterKeys.Key key : keys.keys()) {
            for (int i = 0; i < ids.size(); i++) {
                if (ids.get(i).equals(key.id()) && ClusterKeys.verifies(key, vouched, macs.get(i))) {
                    return nodeId;
                }
            }
        }
        throw new CertificateException("not vouched for by a cluster key this node holds (it was by "
                + (ids.isEmpty() ? "none" : String.join(", ", ids)) + "; this node holds "
                + String.join(", ", keys.ids()) + ")");
    }

    private static byte[] vouched(String cluster, String nodeId, byte[] publicKey) {
        return Der.sequence(Der.utf8(VOUCHER_TAG), Der.utf8(cluster), Der.utf8(nodeId), publicKey);
    }
}

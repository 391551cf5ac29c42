package io.baton.appliance;

import io.baton.config.HostPort;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole appliance under the wire attacks of {@code HostileHostTest}: while a host without the
 * key holds hundreds of connections to both cluster ports and writes frames that declare 2 GiB,
 * the pair keeps answering through the VIP, the active node stays where it was and no config is
 * stored.
 */
class HostilePairTest {

    /** JGroups' connection preamble (cookie, version, an address) and then a frame that declares 2 GiB - 1. */
    private static final byte[] ABSURD_FRAME = {'b', 'e', 'l', 'a', 0x29, 0x08, 0, 7, 4, 127, 0, 0, 3, 0x1f, 0x3f,
            0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3, 4};

    @TempDir
    Path work;

    @Test
    void aKeylessHostsFloodLeavesThePairServingThroughTheVipWithTheActiveWhereItWas() throws Exception {
        try (LoopbackPair pair = LoopbackPair.start(work)) {
            List<Socket> held = new ArrayList<>();
            try {
                for (int i = 0; i < 600; i++) {
                    String from = i % 2 == 0 ? "127.0.0.3" : "127.0.0.1"; // a stranger's address, and the nodes' own
                    HostPort target = i % 3 == 0 ? pair.clusterTwo : pair.clusterOne;
                    Socket socket = new Socket();
                    held.add(socket);
                    try {
                        socket.bind(new InetSocketAddress(from, 0));
                        socket.connect(new InetSocketAddress(target.host(), target.port()), 1000);
                        if (i % 10 == 1) {
                            socket.getOutputStream().write(ABSURD_FRAME);
                        }
                    } catch (IOException refusedOrReset) {
                        // the node closed it: what it should do
                    }
                }

                for (int client = 1; client <= 30; client++) {
                    assertThat(pair.request("127.0.2." + client)).isIn("rs1", "rs2");
                }
                assertThat(pair.one.status().vips().get(0).holder()).isEqualTo("n1");
                assertThat(pair.two.status().vips().get(0).holder()).isEqualTo("n1");
                assertThat(pair.one.applied().revision()).isEqualTo(1);
                assertThat(pair.two.applied().revision()).isEqualTo(1);
                assertThat(pair.one.metrics()).contains("baton_cluster_connections_refused_total{reason=\"not-a-node-address\"}");
            } finally {
                for (Socket socket : held) {
                    try {
                        socket.close();
                    } catch (IOException ignored) {
                        // cleanup
                    }
                }
            }
            for (ApplianceNode node : List.of(pair.one, pair.two)) {
                assertThat(node.status().lastFailover()).as("the active role never moved from the first election")
                        .isNull();
                assertThat(node.status().nodes().get(0).role()).isEqualTo("ACTIVE");
            }
        }
    }
}

package io.baton.forwarding.l7;

import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The idle pool of one event loop: as many kept as the server may have busy at once, the newest reused first. */
class BackendConnectionsTest {

    private static final InetSocketAddress SERVER = new InetSocketAddress("127.0.0.1", 8080);

    @Test
    void keepsUpToTheServersConnectionLimitAndClosesTheRest() {
        BackendConnections pool = new BackendConnections();
        List<Channel> released = new ArrayList<>();
        for (int i = 0; i < 1001; i++) {
            Channel channel = new EmbeddedChannel();
            released.add(channel);
            pool.release(SERVER, channel, 1000);
        }

        assertThat(released.subList(0, 1000)).allMatch(Channel::isActive);
        assertThat(released.get(1000).isActive()).as("beyond the server's limit").isFalse();
        assertThat(pool.acquire(SERVER)).as("newest first").isSameAs(released.get(999));
    }

    @Test
    void aServerWithASmallLimitStillKeepsTheMinimum() {
        BackendConnections pool = new BackendConnections();
        List<Channel> released = new ArrayList<>();
        for (int i = 0; i <= BackendConnections.MIN_IDLE_PER_SERVER; i++) {
            Channel channel = new EmbeddedChannel();
            released.add(channel);
            pool.release(SERVER, channel, 10);
        }

        assertThat(released.subList(0, BackendConnections.MIN_IDLE_PER_SERVER)).allMatch(Channel::isActive);
        assertThat(released.get(BackendConnections.MIN_IDLE_PER_SERVER).isActive()).isFalse();
    }

    @Test
    void aClosedConnectionIsNeitherKeptNorHandedOut() {
        BackendConnections pool = new BackendConnections();
        EmbeddedChannel open = new EmbeddedChannel();
        EmbeddedChannel closing = new EmbeddedChannel();
        pool.release(SERVER, open, 100);
        pool.release(SERVER, closing, 100);
        closing.close();

        assertThat(pool.acquire(SERVER)).isSameAs(open);
        assertThat(pool.acquire(SERVER)).isNull();
    }
}

package io.baton.host;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The kernel's account of TCP connections, read through sock_diag, and hostile answers to the parser. */
class TcpDiagTest {

    @Test
    void aLoopbackConnectionIsListedFromBothEndsWithItsTimes() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket accepted = server.accept()) {
            client.getOutputStream().write(new byte[100]);
            accepted.getInputStream().readNBytes(100);
            InetSocketAddress clientEnd = (InetSocketAddress) client.getLocalSocketAddress();
            InetSocketAddress serverEnd = (InetSocketAddress) accepted.getLocalSocketAddress();

            List<TcpDiag.Connection> connections = TcpDiag.established();

            assertThat(connections).anySatisfy(connection -> {
                assertThat(connection.local()).isEqualTo(clientEnd);
                assertThat(connection.remote()).isEqualTo(serverEnd);
                assertThat(connection.unackedSegments()).isZero();
                assertThat(connection.lastDataSentMillis()).isLessThan(10_000);
                assertThat(connection.lastAckReceivedMillis()).isLessThan(10_000);
            });
            assertThat(connections).anySatisfy(connection -> {
                assertThat(connection.local()).isEqualTo(serverEnd);
                assertThat(connection.remote()).isEqualTo(clientEnd);
            });
        }
    }

    @Test
    void aMessageLongerThanWhatArrivedIsRefused() {
        ByteBuffer in = ByteBuffer.allocate(32).order(ByteOrder.nativeOrder());
        in.putInt(0, 4096).putShort(4, (short) 20);
        assertThatThrownBy(() -> TcpDiag.parse(in, new ArrayList<>())).isInstanceOf(IOException.class)
                .hasMessageContaining("malformed");
        ByteBuffer tooShort = ByteBuffer.allocate(32).order(ByteOrder.nativeOrder());
        tooShort.putInt(0, 8);
        assertThatThrownBy(() -> TcpDiag.parse(tooShort, new ArrayList<>())).isInstanceOf(IOException.class);
    }

    @Test
    void anErrorAnswerNamesItsErrno() {
        ByteBuffer in = ByteBuffer.allocate(36).order(ByteOrder.nativeOrder());
        in.putInt(0, 36).putShort(4, (short) 2).putInt(16, -13);
        assertThatThrownBy(() -> TcpDiag.parse(in, new ArrayList<>())).hasMessageContaining("errno 13");
    }

    @Test
    void aDiagMessageWithoutTcpInfoOrWithATruncatedAttributeIsSkipped() throws Exception {
        // a socket message with no attribute, then one whose attribute claims more than it has, then the end
        ByteBuffer in = ByteBuffer.allocate(88 + 96 + 16).order(ByteOrder.nativeOrder());
        in.putInt(0, 88).putShort(4, (short) 20).put(16, (byte) 2);
        in.putInt(88, 96).putShort(92, (short) 20).put(104, (byte) 2);
        in.putShort(88 + 88, (short) 200).putShort(88 + 90, (short) 2);
        in.putInt(184, 16).putShort(188, (short) 3);
        List<TcpDiag.Connection> connections = new ArrayList<>();
        assertThat(TcpDiag.parse(in, connections)).isTrue();
        assertThat(connections).isEmpty();
    }
}

package io.baton.host;

import com.sun.jna.LastErrorException;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The kernel's own account of this network namespace's established TCP connections, with the
 * times in their {@code tcp_info} (what {@code ss -ti} shows): one NETLINK_SOCK_DIAG dump, in
 * process through JNA, no program started. A peer host whose kernel acknowledges this node's
 * segments is up, whatever its processes do: that tells a starved or stopped process from a dead
 * host or a cut link. Needs no privilege.
 */
public final class TcpDiag {

    /** One established connection, and how long ago (ms) it last sent data and last received an acknowledgement. */
    public record Connection(InetSocketAddress local, InetSocketAddress remote, int unackedSegments,
                             long lastDataSentMillis, long lastAckReceivedMillis) {
    }

    /** How long a dump may take before it is given up (it is asked for on failure detection's thread). */
    static final long RECEIVE_TIMEOUT_MICROS = 200_000;
    /** A dump is read in pieces of this size; one connection takes about 300 bytes. */
    private static final int BUFFER = 64 << 10;
    /** Connections read at most: a node with more is a busy proxy, and its peers are among the first. */
    static final int MAX_CONNECTIONS = 100_000;

    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int IPPROTO_TCP = 6;
    private static final short SOCK_DIAG_BY_FAMILY = 20;
    private static final short NLM_F_DUMP = 0x300;
    private static final int TCP_ESTABLISHED = 1;
    private static final int INET_DIAG_INFO = 2;
    /** struct inet_diag_msg: family, state, timer, retrans, inet_diag_sockid (48), expires, rqueue, wqueue, uid, inode. */
    private static final int DIAG_MSG = 72;
    /** Offsets in struct tcp_info (linux/tcp.h): after eight one-byte fields, u32s. */
    private static final int TCPI_UNACKED = 24;
    private static final int TCPI_LAST_DATA_SENT = 44;
    private static final int TCPI_LAST_ACK_RECV = 56;

    private TcpDiag() {
    }

    /**
     * This namespace's established TCP connections, IPv4 and IPv6 (a Java socket is an IPv6 one
     * unless IPv4 is preferred; its IPv4-mapped addresses come back as IPv4 addresses).
     */
    public static List<Connection> established() throws IOException {
        List<Connection> connections = new ArrayList<>(established(AF_INET));
        connections.addAll(established(AF_INET6));
        return connections;
    }

    private static List<Connection> established(int family) throws IOException {
        int fd = Netlink.open(Netlink.NETLINK_SOCK_DIAG, RECEIVE_TIMEOUT_MICROS);
        try {
            Netlink.sendToKernel(fd, request(family));
            List<Connection> connections = new ArrayList<>();
            byte[] buffer = new byte[BUFFER];
            while (true) {
                long length = LibC.INSTANCE.recv(fd, buffer, buffer.length, 0);
                if (length <= 0) {
                    throw new IOException("the sock_diag dump ended without its last message");
                }
                if (parse(ByteBuffer.wrap(buffer, 0, (int) length).order(ByteOrder.nativeOrder()), connections)) {
                    return connections;
                }
                if (connections.size() > MAX_CONNECTIONS) {
                    throw new IOException("more than " + MAX_CONNECTIONS + " connections; not read further");
                }
            }
        } catch (LastErrorException e) {
            throw new IOException("sock_diag dump failed (errno " + e.getErrorCode() + ")", e);
        } finally {
            LibC.INSTANCE.close(fd);
        }
    }

    /** nlmsghdr + inet_diag_req_v2 asking for every established TCP socket with its tcp_info. */
    static byte[] request(int family) {
        int length = Netlink.HEADER + 56;
        ByteBuffer out = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
        out.putInt(length).putShort(SOCK_DIAG_BY_FAMILY).putShort((short) (Netlink.NLM_F_REQUEST | NLM_F_DUMP))
                .putInt(1).putInt(0);
        out.put((byte) family).put((byte) IPPROTO_TCP).put((byte) (1 << (INET_DIAG_INFO - 1))).put((byte) 0);
        out.putInt(1 << TCP_ESTABLISHED);
        // inet_diag_sockid: zeros (a dump matches every socket)
        return out.array();
    }

    /**
     * Reads the messages of one {@code recv} into {@code connections}; true when the dump's last
     * message was among them. A message shorter than it says, or an error, is an IOException.
     */
    static boolean parse(ByteBuffer in, List<Connection> connections) throws IOException {
        while (in.remaining() >= Netlink.HEADER) {
            int start = in.position();
            int length = in.getInt(start);
            short type = in.getShort(start + 4);
            if (length < Netlink.HEADER || length > in.remaining()) {
                throw new IOException("malformed sock_diag message (length " + length + ")");
            }
            if (type == Netlink.NLMSG_DONE) {
                return true;
            }
            if (type == Netlink.NLMSG_ERROR) {
                int errno = length >= Netlink.HEADER + 4 ? -in.getInt(start + Netlink.HEADER) : 0;
                throw new IOException("sock_diag refused the dump (errno " + errno + ")");
            }
            if (type == SOCK_DIAG_BY_FAMILY && length >= Netlink.HEADER + DIAG_MSG) {
                Connection connection = connection(in, start + Netlink.HEADER, start + length);
                if (connection != null) {
                    connections.add(connection);
                }
            }
            int next = start + align(length);
            if (next >= in.limit()) {
                break;
            }
            in.position(next);
        }
        return false;
    }

    private static Connection connection(ByteBuffer in, int at, int end) throws IOException {
        int family = in.get(at) & 0xff;
        if (family != AF_INET && family != AF_INET6) {
            return null;
        }
        int sourcePort = port(in, at + 4);
        int destinationPort = port(in, at + 6);
        InetAddress source = address(in, at + 8, family);
        InetAddress destination = address(in, at + 24, family);
        int attribute = at + DIAG_MSG;
        while (attribute + 4 <= end) {
            int attributeLength = Short.toUnsignedInt(in.getShort(attribute));
            int attributeType = Short.toUnsignedInt(in.getShort(attribute + 2));
            if (attributeLength < 4 || attribute + attributeLength > end) {
                break;
            }
            if (attributeType == INET_DIAG_INFO && attributeLength >= 4 + TCPI_LAST_ACK_RECV + 4) {
                int info = attribute + 4;
                return new Connection(new InetSocketAddress(source, sourcePort),
                        new InetSocketAddress(destination, destinationPort), in.getInt(info + TCPI_UNACKED),
                        Integer.toUnsignedLong(in.getInt(info + TCPI_LAST_DATA_SENT)),
                        Integer.toUnsignedLong(in.getInt(info + TCPI_LAST_ACK_RECV)));
            }
            attribute += align(attributeLength);
        }
        return null; // no tcp_info (a socket in a state that has none)
    }

    private static InetAddress address(ByteBuffer in, int at, int family) throws IOException {
        byte[] bytes = new byte[16];
        in.get(at, bytes);
        try {
            return InetAddress.getByAddress(family == AF_INET ? Arrays.copyOf(bytes, 4) : bytes);
        } catch (UnknownHostException e) {
            throw new IOException("malformed address in a sock_diag message", e);
        }
    }

    /** A port in network byte order, whatever the buffer's order. */
    private static int port(ByteBuffer in, int at) {
        return (in.get(at) & 0xff) << 8 | in.get(at + 1) & 0xff;
    }

    private static int align(int length) {
        return (length + 3) & ~3;
    }
}

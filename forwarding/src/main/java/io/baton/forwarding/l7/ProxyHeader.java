package io.baton.forwarding.l7;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;

import java.net.InetSocketAddress;

/**
 * The PROXY protocol v2 header (HAProxy's proxy-protocol.txt, section 2.2) that an {@code l7-snat}
 * service with {@code proxy-protocol: v2} sends first on every connection to a real server: the
 * command PROXY, TCP over IPv4 (or IPv6), the client's address and port as the source and the VIP's
 * as the destination, and no TLVs.
 */
final class ProxyHeader {

    /** The 12 bytes every v2 header starts with. */
    static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final int VERSION_2_PROXY = 0x21;
    private static final int TCP_OVER_IPV4 = 0x11;
    private static final int TCP_OVER_IPV6 = 0x21;

    private ProxyHeader() {
    }

    /** The header for a connection that {@code client} (a client's accepted channel) made to a VIP. */
    static ByteBuf of(Channel client) {
        return encode(client.alloc(), (InetSocketAddress) client.remoteAddress(),
                (InetSocketAddress) client.localAddress());
    }

    static ByteBuf encode(ByteBufAllocator alloc, InetSocketAddress source, InetSocketAddress destination) {
        byte[] from = source.getAddress().getAddress();
        byte[] to = destination.getAddress().getAddress();
        if (from.length != to.length) {
            // an IPv4 client on an IPv6 socket: both as IPv6 (the v4-mapped form)
            from = ipv6(from);
            to = ipv6(to);
        }
        boolean v4 = from.length == 4;
        int length = 2 * from.length + 4;
        ByteBuf header = alloc.buffer(16 + length);
        header.writeBytes(SIGNATURE);
        header.writeByte(VERSION_2_PROXY);
        header.writeByte(v4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6);
        header.writeShort(length);
        header.writeBytes(from);
        header.writeBytes(to);
        header.writeShort(source.getPort());
        header.writeShort(destination.getPort());
        return header;
    }

    private static byte[] ipv6(byte[] address) {
        if (address.length == 16) {
            return address;
        }
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xFF;
        mapped[11] = (byte) 0xFF;
        System.arraycopy(address, 0, mapped, 12, 4);
        return mapped;
    }
}

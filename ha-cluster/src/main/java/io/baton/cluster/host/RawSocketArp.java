package io.baton.cluster.host;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import io.baton.config.Ipv4;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

/**
 * Gratuitous ARP from one raw {@code AF_PACKET} socket, in process through JNA: no fork per packet.
 * Needs CAP_NET_RAW (the appliance runs as root or with that capability).
 */
public final class RawSocketArp implements ArpAnnouncer, ArpProbe {

    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int ETH_P_ARP = 0x0806;
    private static final int FRAME_BYTES = 60;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;

    /** The few libc calls used. */
    interface LibC extends Library {
        int socket(int domain, int type, int protocol) throws LastErrorException;

        int sendto(int fd, byte[] buffer, long length, int flags, byte[] address, int addressLength)
                throws LastErrorException;

        int bind(int fd, byte[] address, int addressLength) throws LastErrorException;

        int setsockopt(int fd, int level, int option, byte[] value, int length) throws LastErrorException;

        long recv(int fd, byte[] buffer, long length, int flags) throws LastErrorException;

        int close(int fd) throws LastErrorException;
    }

    private static final LibC LIBC = Native.load("c", LibC.class);

    private final AddressManager addresses;

    public RawSocketArp(AddressManager addresses) {
        this.addresses = addresses;
    }

    @Override
    public void announce(String iface, String address) throws IOException {
        byte[] mac = parseMac(addresses.mac(iface));
        int ifindex = addresses.ifindex(iface);
        byte[] ip = ipBytes(address);
        int fd;
        try {
            fd = LIBC.socket(AF_PACKET, SOCK_RAW, Short.toUnsignedInt(Short.reverseBytes((short) ETH_P_ARP)));
        } catch (LastErrorException e) {
            throw new IOException("cannot open a raw packet socket for gratuitous ARP (errno " + e.getErrorCode()
                    + "; CAP_NET_RAW is needed)", e);
        }
        try {
            byte[] link = linkAddress(ifindex);
            send(fd, frame(mac, ip, 1), link, iface);   // request: who-has VIP tell VIP
            send(fd, frame(mac, ip, 2), link, iface);   // reply: VIP is-at MAC
        } finally {
            LIBC.close(fd);
        }
    }

    @Override
    public String answeredElsewhere(String iface, String address, Duration wait) throws IOException {
        byte[] mac = parseMac(addresses.mac(iface));
        int ifindex = addresses.ifindex(iface);
        byte[] ip = ipBytes(address);
        int fd;
        try {
            fd = LIBC.socket(AF_PACKET, SOCK_RAW, Short.toUnsignedInt(Short.reverseBytes((short) ETH_P_ARP)));
        } catch (LastErrorException e) {
            throw new IOException("cannot open a raw packet socket (errno " + e.getErrorCode() + ")", e);
        }
        try {
            byte[] link = linkAddress(ifindex);
            LIBC.bind(fd, link, link.length);
            ByteBuffer timeout = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
            timeout.putLong(0).putLong(20_000);                          // struct timeval: 20 ms per recv
            LIBC.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout.array(), 16);
            send(fd, probe(mac, ip), link, iface);
            long deadline = System.nanoTime() + wait.toNanos();
            byte[] frame = new byte[128];
            while (System.nanoTime() < deadline) {
                long length;
                try {
                    length = LIBC.recv(fd, frame, frame.length, 0);
                } catch (LastErrorException e) {
                    continue;                                            // EAGAIN: nothing within 20 ms
                }
                String other = otherOwner(frame, length, mac, ip);
                if (other != null) {
                    return other;
                }
            }
            return null;
        } catch (LastErrorException e) {
            throw new IOException("ARP probe on " + iface + " failed (errno " + e.getErrorCode() + ")", e);
        } finally {
            LIBC.close(fd);
        }
    }

    /** A duplicate-address probe: who has {@code ip}? (sender address 0.0.0.0, as RFC 5227 asks). */
    static byte[] probe(byte[] mac, byte[] ip) {
        byte[] frame = frame(mac, ip, 1);
        java.util.Arrays.fill(frame, 28, 32, (byte) 0);                 // sender protocol address
        return frame;
    }

    /** The sender MAC if {@code frame} is an ARP reply (or request) from another host that owns {@code ip}. */
    private static String otherOwner(byte[] frame, long length, byte[] mac, byte[] ip) {
        if (length < 42 || (frame[12] & 0xFF) != 0x08 || (frame[13] & 0xFF) != 0x06) {
            return null;
        }
        byte[] senderMac = java.util.Arrays.copyOfRange(frame, 22, 28);
        byte[] senderIp = java.util.Arrays.copyOfRange(frame, 28, 32);
        if (!java.util.Arrays.equals(senderIp, ip) || java.util.Arrays.equals(senderMac, mac)) {
            return null;
        }
        StringBuilder text = new StringBuilder();
        for (byte b : senderMac) {
            text.append(text.length() == 0 ? "" : ":").append(String.format("%02x", b & 0xFF));
        }
        return text.toString();
    }

    private static void send(int fd, byte[] frame, byte[] link, String iface) throws IOException {
        try {
            LIBC.sendto(fd, frame, frame.length, 0, link, link.length);
        } catch (LastErrorException e) {
            throw new IOException("cannot send gratuitous ARP on " + iface + " (errno " + e.getErrorCode() + ")", e);
        }
    }

    /** An Ethernet broadcast frame carrying a gratuitous ARP request (1) or reply (2). */
    static byte[] frame(byte[] mac, byte[] ip, int operation) {
        ByteBuffer frame = ByteBuffer.allocate(FRAME_BYTES).order(ByteOrder.BIG_ENDIAN);
        frame.put(new byte[] {-1, -1, -1, -1, -1, -1});   // to everyone
        frame.put(mac);
        frame.putShort((short) ETH_P_ARP);
        frame.putShort((short) 1);                          // Ethernet
        frame.putShort((short) 0x0800);                     // IPv4
        frame.put((byte) 6).put((byte) 4);
        frame.putShort((short) operation);
        frame.put(mac).put(ip);                             // sender: the VIP at our MAC
        frame.put(operation == 1 ? new byte[6] : new byte[] {-1, -1, -1, -1, -1, -1});
        frame.put(ip);                                      // target: the VIP itself
        return frame.array();                               // zero padding to the 60-byte minimum
    }

    /** {@code struct sockaddr_ll} for sending on one interface (host byte order where the kernel wants it). */
    private static byte[] linkAddress(int ifindex) {
        ByteBuffer link = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
        link.putShort((short) AF_PACKET);                                   // sll_family
        link.order(ByteOrder.BIG_ENDIAN).putShort((short) ETH_P_ARP);       // sll_protocol
        link.order(ByteOrder.nativeOrder()).putInt(ifindex);                // sll_ifindex
        link.putShort((short) 1);                                           // sll_hatype: ARPHRD_ETHER
        link.put((byte) 0);                                                 // sll_pkttype
        link.put((byte) 6);                                                 // sll_halen
        link.put(new byte[] {-1, -1, -1, -1, -1, -1, 0, 0});                // sll_addr: broadcast
        return link.array();
    }

    static byte[] parseMac(String text) throws IOException {
        String[] parts = text.split(":");
        if (parts.length != 6) {
            throw new IOException("\"" + text + "\" is not a MAC address");
        }
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return mac;
    }

    private static byte[] ipBytes(String address) throws IOException {
        int value = Ipv4.parse(address).orElseThrow(() -> new IOException("\"" + address + "\" is not IPv4"));
        return ByteBuffer.allocate(4).putInt(value).array();
    }
}

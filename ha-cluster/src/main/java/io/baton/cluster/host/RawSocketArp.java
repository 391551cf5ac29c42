package io.baton.cluster.host;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import io.baton.config.Ipv4;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Gratuitous ARP from one raw {@code AF_PACKET} socket, in process through JNA: no fork per packet.
 * Needs CAP_NET_RAW (the appliance runs as root or with that capability).
 */
public final class RawSocketArp implements ArpAnnouncer {

    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int ETH_P_ARP = 0x0806;
    private static final int FRAME_BYTES = 60;

    /** The few libc calls used. */
    interface LibC extends Library {
        int socket(int domain, int type, int protocol) throws LastErrorException;

        int sendto(int fd, byte[] buffer, long length, int flags, byte[] address, int addressLength)
                throws LastErrorException;

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

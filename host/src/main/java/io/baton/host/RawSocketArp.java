package io.baton.host;

import com.sun.jna.LastErrorException;
import io.baton.config.Ipv4;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Gratuitous ARP and ARP probes from raw {@code AF_PACKET} sockets, in process through JNA: no fork
 * per packet. One socket per interface, opened at first use and kept: closing a packet socket waits
 * for a kernel RCU grace period (tens of milliseconds), which a takeover must not pay. Needs
 * CAP_NET_RAW (the appliance runs as root or with that capability).
 */
public final class RawSocketArp implements ArpAnnouncer, ArpProbe, AutoCloseable {

    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int ETH_P_ARP = 0x0806;
    private static final int FRAME_BYTES = 60;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVBUF = 8;
    private static final int SO_RCVTIMEO = 20;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int EAGAIN = 11;
    /** A probe listens in slices this long, so that it ends close to the wait it was given. */
    private static final long RECV_SLICE_MICROS = 5_000;
    /** Frames queued between probes are dropped beyond this: a probe's drain stays short. */
    private static final int RECEIVE_BUFFER_BYTES = 4096;

    private static final LibC LIBC = LibC.INSTANCE;

    private final AddressManager addresses;
    /** Interface name → its open ARP socket. */
    private final Map<String, Integer> sockets = new HashMap<>();

    public RawSocketArp(AddressManager addresses) {
        this.addresses = addresses;
    }

    @Override
    public void announce(String iface, String address) throws IOException {
        byte[] mac = parseMac(addresses.mac(iface));
        byte[] ip = ipBytes(address);
        byte[] link = linkAddress(addresses.ifindex(iface));
        withSocket(iface, fd -> {
            send(fd, frame(mac, ip, 1), link, iface);   // request: who-has VIP tell VIP
            send(fd, frame(mac, ip, 2), link, iface);   // reply: VIP is-at MAC
            return null;
        });
    }

    @Override
    public String answeredElsewhere(String iface, String address, Duration wait) throws IOException {
        return probeAnswers(iface, address, wait, 0).stream().findFirst().orElse(null);
    }

    /** After a first answer to a probe, how long another host's answer is waited for. */
    private static final long SECOND_ANSWER_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(3);

    @Override
    public java.util.Set<String> answerers(String iface, String address, Duration wait) throws IOException {
        // hosts on one LAN answer within a millisecond of each other: a little longer for a second
        // answerer after the first, not the whole wait (a takeover is waiting on this)
        return probeAnswers(iface, address, wait, SECOND_ANSWER_NANOS);
    }

    /**
     * Sends one probe and collects the MACs of other hosts that answer, until {@code wait} is over
     * or {@code afterFirstNanos} after the first answer.
     */
    private synchronized java.util.Set<String> probeAnswers(String iface, String address, Duration wait,
                                                           long afterFirstNanos) throws IOException {
        byte[] mac = parseMac(addresses.mac(iface));
        byte[] ip = ipBytes(address);
        byte[] link = linkAddress(addresses.ifindex(iface));
        return withSocket(iface, fd -> {
            byte[] frame = new byte[128];
            drain(fd, frame);
            send(fd, probe(mac, ip), link, iface);
            java.util.Set<String> seen = new java.util.TreeSet<>();
            long deadline = System.nanoTime() + wait.toNanos();
            while (System.nanoTime() < deadline) {
                long length;
                try {
                    length = LIBC.recv(fd, frame, frame.length, 0);
                } catch (LastErrorException e) {
                    continue;                                            // EAGAIN: nothing within the slice
                }
                String other = otherOwner(frame, length, mac, ip);
                if (other != null && seen.add(other) && seen.size() == 1) {
                    deadline = Math.min(deadline, System.nanoTime() + afterFirstNanos);
                }
            }
            return java.util.Set.copyOf(seen);
        });
    }

    /**
     * Frames that arrived since the last probe answer older questions: all of them go, so that the
     * answer to the next probe finds room. An error the socket reports once (ENETDOWN after the link
     * went down and came back) is no end of the queue: stopping there left a full buffer, which
     * dropped the very answer the probe waited for (a takeover beside a live holder, in the chaos soak).
     */
    private static void drain(int fd, byte[] frame) {
        for (int errors = 0; errors < 4; ) {
            try {
                if (LIBC.recv(fd, frame, frame.length, MSG_DONTWAIT) <= 0) {
                    return;
                }
            } catch (LastErrorException e) {
                if (e.getErrorCode() == EAGAIN) {
                    return; // nothing queued
                }
                errors++; // reported once and cleared; a socket that keeps failing is reopened by the send
            }
        }
    }

    private interface SocketWork<T> {
        T on(int fd) throws IOException;
    }

    /** Runs {@code work} on the interface's socket; a socket that fails is reopened once (the interface may be new). */
    private <T> T withSocket(String iface, SocketWork<T> work) throws IOException {
        try {
            return work.on(socket(iface));
        } catch (IOException | LastErrorException e) {
            forget(iface);
            try {
                return work.on(socket(iface));
            } catch (LastErrorException again) {
                throw new IOException("ARP on " + iface + " failed (errno " + again.getErrorCode() + ")", again);
            }
        }
    }

    private synchronized int socket(String iface) throws IOException {
        Integer open = sockets.get(iface);
        if (open != null) {
            return open;
        }
        int fd;
        try {
            // protocol 0 here, ETH_P_ARP at bind: receiving starts on this interface only, and the
            // bind needs no grace period for a hook that was never registered
            fd = LIBC.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw new IOException("cannot open a raw packet socket for ARP (errno " + e.getErrorCode()
                    + "; CAP_NET_RAW is needed)", e);
        }
        try {
            byte[] link = linkAddress(addresses.ifindex(iface));
            LIBC.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, intBytes(RECEIVE_BUFFER_BYTES), 4);
            ByteBuffer timeout = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
            timeout.putLong(0).putLong(RECV_SLICE_MICROS);               // struct timeval: one recv's wait
            LIBC.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout.array(), 16);
            LIBC.bind(fd, link, link.length);
        } catch (LastErrorException | IOException e) {
            LIBC.close(fd);
            throw e instanceof IOException io ? io
                    : new IOException("cannot bind an ARP socket to " + iface + " (errno "
                            + ((LastErrorException) e).getErrorCode() + ")", e);
        }
        sockets.put(iface, fd);
        return fd;
    }

    private synchronized void forget(String iface) {
        Integer fd = sockets.remove(iface);
        if (fd != null) {
            LIBC.close(fd);
        }
    }

    @Override
    public synchronized void close() {
        sockets.values().forEach(LIBC::close);
        sockets.clear();
    }

    private static byte[] intBytes(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array();
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
            throw new IOException("cannot send ARP on " + iface + " (errno " + e.getErrorCode() + ")", e);
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

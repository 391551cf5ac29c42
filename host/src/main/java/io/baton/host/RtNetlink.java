package io.baton.host;

import com.sun.jna.LastErrorException;
import io.baton.config.Ipv4;
import io.baton.config.VipConfig;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Adds and removes IPv4 addresses in this process's network namespace with one rtnetlink request
 * each (what {@code ip addr add|del} sends), in process through JNA: a takeover does not wait for
 * a process to start. Needs CAP_NET_ADMIN.
 */
final class RtNetlink {

    private static final int AF_INET = 2;

    private static final short RTM_NEWADDR = 20;
    private static final short RTM_DELADDR = 21;
    private static final short NLM_F_ACK = 0x4;
    private static final short NLM_F_EXCL = 0x200;
    private static final short NLM_F_CREATE = 0x400;
    private static final short IFA_ADDRESS = 1;
    private static final short IFA_LOCAL = 2;
    private static final short IFA_LABEL = 3;

    private static final int EEXIST = 17;
    private static final int EADDRNOTAVAIL = 99;

    private static final LibC LIBC = LibC.INSTANCE;

    private RtNetlink() {
    }

    /** Adds the address; one already there is fine. */
    static void add(VipConfig vip, int ifindex, String label) throws IOException {
        int error = request(RTM_NEWADDR, (short) (NLM_F_CREATE | NLM_F_EXCL), vip, ifindex, label);
        if (error != 0 && error != EEXIST) {
            throw new IOException("cannot add " + vip.cidr() + " to " + vip.iface() + ": " + describe(error));
        }
    }

    /** Removes the address; one already gone is fine. */
    static void remove(VipConfig vip, int ifindex) throws IOException {
        int error = request(RTM_DELADDR, (short) 0, vip, ifindex, null);
        if (error != 0 && error != EADDRNOTAVAIL) {
            throw new IOException("cannot remove " + vip.cidr() + " from " + vip.iface() + ": " + describe(error));
        }
    }

    /** Sends one request and returns the errno of the kernel's answer (0: done). */
    private static int request(short type, short flags, VipConfig vip, int ifindex, String label) throws IOException {
        byte[] message = message(type, flags, vip, ifindex, label);
        int fd = Netlink.open(Netlink.NETLINK_ROUTE, 2_000_000);
        try {
            Netlink.sendToKernel(fd, message);
            byte[] answer = new byte[1024];
            long length = LIBC.recv(fd, answer, answer.length, 0);
            ByteBuffer in = ByteBuffer.wrap(answer, 0, (int) length).order(ByteOrder.nativeOrder());
            if (length < 20 || in.getShort(4) != Netlink.NLMSG_ERROR) {
                throw new IOException("unexpected netlink answer (" + length + " bytes)");
            }
            return -in.getInt(16);
        } catch (LastErrorException e) {
            throw new IOException("netlink request failed: " + describe(e.getErrorCode()), e);
        } finally {
            LIBC.close(fd);
        }
    }

    /** nlmsghdr + ifaddrmsg + IFA_LOCAL, IFA_ADDRESS and (on add) IFA_LABEL attributes. */
    private static byte[] message(short type, short flags, VipConfig vip, int ifindex, String label) {
        byte[] address = Ipv4.parse(vip.address()).map(RtNetlink::bytes)
                .orElseThrow(() -> new IllegalArgumentException("not an IPv4 address: " + vip.address()));
        byte[] name = label == null ? null : (label + "\0").getBytes(StandardCharsets.US_ASCII);
        int length = 16 + 8 + 8 + 8 + (name == null ? 0 : align(4 + name.length));
        ByteBuffer out = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
        out.putInt(length).putShort(type).putShort((short) (Netlink.NLM_F_REQUEST | NLM_F_ACK | flags)).putInt(1).putInt(0);
        out.put((byte) AF_INET).put((byte) vip.prefix()).put((byte) 0).put((byte) 0).putInt(ifindex);
        out.putShort((short) 8).putShort(IFA_LOCAL).put(address);
        out.putShort((short) 8).putShort(IFA_ADDRESS).put(address);
        if (name != null) {
            out.putShort((short) (4 + name.length)).putShort(IFA_LABEL).put(name);
        }
        return out.array();
    }

    private static byte[] bytes(int address) {
        return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(address).array();
    }

    private static int align(int length) {
        return (length + 3) & ~3;
    }

    private static String describe(int errno) {
        return switch (errno) {
            case 1 -> "operation not permitted (CAP_NET_ADMIN is needed)";
            case 19 -> "no such interface";
            default -> "errno " + errno;
        };
    }
}

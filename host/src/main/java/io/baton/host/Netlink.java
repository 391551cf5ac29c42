package io.baton.host;

import com.sun.jna.LastErrorException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A netlink socket to the kernel: opened with a receive deadline, written to the kernel (pid 0). */
final class Netlink {

    static final int NETLINK_ROUTE = 0;
    static final int NETLINK_SOCK_DIAG = 4;
    static final short NLMSG_ERROR = 2;
    static final short NLMSG_DONE = 3;
    static final short NLM_F_REQUEST = 0x1;
    /** struct nlmsghdr. */
    static final int HEADER = 16;

    private static final int AF_NETLINK = 16;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;

    private Netlink() {
    }

    /** A netlink socket of {@code protocol} whose reads give up after {@code receiveTimeoutMicros}. */
    static int open(int protocol, long receiveTimeoutMicros) throws IOException {
        int fd;
        try {
            fd = LibC.INSTANCE.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
        } catch (LastErrorException e) {
            throw new IOException("cannot open a netlink socket (protocol " + protocol + ", errno "
                    + e.getErrorCode() + ")", e);
        }
        try {
            byte[] timeout = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder())
                    .putLong(receiveTimeoutMicros / 1_000_000).putLong(receiveTimeoutMicros % 1_000_000).array();
            LibC.INSTANCE.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, timeout.length);
        } catch (LastErrorException e) {
            LibC.INSTANCE.close(fd);
            throw new IOException("cannot set a receive deadline on a netlink socket (errno " + e.getErrorCode()
                    + ")", e);
        }
        return fd;
    }

    /** Sends {@code message} to the kernel; a failure comes as the {@link LastErrorException} of sendto. */
    static void sendToKernel(int fd, byte[] message) {
        byte[] kernel = new byte[12]; // sockaddr_nl: AF_NETLINK, pid 0 (the kernel), no groups
        ByteBuffer.wrap(kernel).order(ByteOrder.nativeOrder()).putShort((short) AF_NETLINK);
        LibC.INSTANCE.sendto(fd, message, message.length, 0, kernel, kernel.length);
    }
}

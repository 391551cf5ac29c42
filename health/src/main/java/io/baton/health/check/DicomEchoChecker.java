package io.baton.health.check;

import io.baton.config.HealthCheck;
import io.baton.health.CheckResult;
import io.baton.health.CheckTarget;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * {@code dicom-echo}: a minimal DICOM Upper Layer client (PS3.8) that proposes the Verification
 * SOP Class with Implicit VR Little Endian, sends a C-ECHO-RQ (PS3.7) and expects a C-ECHO-RSP with
 * status 0x0000, then releases the association. Rejections, aborts, non-zero statuses, peers that
 * do not speak DICOM and timeouts each fail with their own reason.
 */
final class DicomEchoChecker implements Checker {

    static final String VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1";
    static final String IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2";
    static final String APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1";
    /** Our implementation class UID: a UUID-derived OID (2.25), as PS3.5 allows. */
    static final String IMPLEMENTATION_CLASS_UID = "2.25.94816153447325391185296524087216117201";
    static final String IMPLEMENTATION_VERSION = "BATON_1";

    private static final int A_ASSOCIATE_RQ = 0x01;
    private static final int A_ASSOCIATE_AC = 0x02;
    private static final int A_ASSOCIATE_RJ = 0x03;
    private static final int P_DATA_TF = 0x04;
    private static final int A_RELEASE_RQ = 0x05;
    private static final int A_RELEASE_RP = 0x06;
    private static final int A_ABORT = 0x07;
    private static final int PRESENTATION_CONTEXT_ID = 1;
    private static final int MAX_PDU = 16384;
    /**
     * The longest PDU read: the A-ASSOCIATE-RQ asks for {@link #MAX_PDU} at most; an A-ASSOCIATE-AC
     * (a few hundred bytes) is not bound by that, so some room is left.
     */
    static final int MAX_PDU_ACCEPTED = 64 * 1024;
    /** The longest C-ECHO-RSP command set accepted (a real one is about 100 bytes). */
    static final int MAX_COMMAND_BYTES = 16 * 1024;
    private static final int C_ECHO_RQ = 0x0030;
    private static final int C_ECHO_RSP = 0x8030;

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        HealthCheck check = target.check();
        deadline.phaseOnceConnected("sending A-ASSOCIATE-RQ");
        try (Socket socket = deadline.connect(target.host(), target.port())) {
            OutputStream out = socket.getOutputStream();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            out.write(associateRequest(check.calledAeTitle(), check.callingAeTitle()));
            out.flush();

            deadline.phase("waiting for the answer to A-ASSOCIATE-RQ");
            Pdu answer = readPdu(in, socket, deadline);
            switch (answer.type()) {
                case A_ASSOCIATE_AC -> {
                    String problem = acceptedProblem(answer.body());
                    if (problem != null) {
                        return abort(out, problem);
                    }
                }
                case A_ASSOCIATE_RJ -> {
                    return CheckResult.down("association rejected (" + rejectReason(answer.body()) + ")");
                }
                case A_ABORT -> {
                    return CheckResult.down("association aborted by the server (" + abortReason(answer.body()) + ")");
                }
                default -> {
                    return abort(out, "unexpected answer to A-ASSOCIATE-RQ: PDU type 0x"
                            + Integer.toHexString(answer.type()));
                }
            }

            out.write(echoRequest());
            out.flush();
            deadline.phase("waiting for the C-ECHO-RSP");
            Integer status = null;
            Integer command = null;
            ByteArrayOutputStream commandBytes = new ByteArrayOutputStream();
            while (status == null) {
                Pdu pdu = readPdu(in, socket, deadline);
                if (pdu.type() == A_ABORT) {
                    return CheckResult.down("association aborted by the server after C-ECHO-RQ ("
                            + abortReason(pdu.body()) + ")");
                }
                if (pdu.type() != P_DATA_TF) {
                    return abort(out, "unexpected PDU type 0x" + Integer.toHexString(pdu.type()) + " instead of P-DATA-TF");
                }
                if (collectCommand(pdu.body(), commandBytes)) {
                    deadline.phase("reading the C-ECHO-RSP");
                    ByteBuffer elements = ByteBuffer.wrap(commandBytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
                    while (elements.remaining() >= 8) {
                        int tag = (elements.getShort() & 0xFFFF) << 16 | (elements.getShort() & 0xFFFF);
                        int length = elements.getInt();
                        if (length < 0 || length > elements.remaining()) {
                            return abort(out, "malformed C-ECHO-RSP command set");
                        }
                        if (tag == 0x00000100 && length == 2) {
                            command = elements.getShort(elements.position()) & 0xFFFF;
                        } else if (tag == 0x00000900 && length == 2) {
                            status = elements.getShort(elements.position()) & 0xFFFF;
                        }
                        elements.position(elements.position() + length);
                    }
                    if (status == null) {
                        return abort(out, "C-ECHO-RSP without a status");
                    }
                }
            }
            if (command == null || command != C_ECHO_RSP) {
                return abort(out, "answer is not a C-ECHO-RSP (command field 0x"
                        + Integer.toHexString(command == null ? 0 : command) + ")");
            }
            release(out, in, socket, deadline);
            return status == 0 ? CheckResult.up("C-ECHO status 0x0000")
                    : CheckResult.down(String.format("C-ECHO status 0x%04X", status));
        }
    }

    /** One PDU: type and body (after the 6-byte header). */
    private record Pdu(int type, byte[] body) {
    }

    private static Pdu readPdu(DataInputStream in, Socket socket, Deadline deadline) throws IOException {
        byte[] header = new byte[6];
        deadline.beforeRead(socket);
        int first = in.read();
        if (first < 0) {
            throw new EOFException("the server closed the connection");
        }
        header[0] = (byte) first;
        readFully(in, socket, deadline, header, 1, 5);
        int type = header[0] & 0xFF;
        long length = ByteBuffer.wrap(header, 2, 4).getInt() & 0xFFFFFFFFL;
        if (type < A_ASSOCIATE_RQ || type > A_ABORT || header[1] != 0) {
            throw new NotDicomException("not a DICOM peer (it answered \""
                    + printable(header) + "\")");
        }
        if (length > MAX_PDU_ACCEPTED) {
            throw new NotDicomException("the server sent a PDU (type 0x" + Integer.toHexString(type) + ") declaring "
                    + length + " bytes, more than the " + MAX_PDU_ACCEPTED + " this check accepts (it asked for "
                    + MAX_PDU + " at most)");
        }
        byte[] body = new byte[(int) length];
        readFully(in, socket, deadline, body, 0, body.length);
        return new Pdu(type, body);
    }

    private static void readFully(DataInputStream in, Socket socket, Deadline deadline, byte[] buffer, int offset,
                                  int length) throws IOException {
        int done = 0;
        while (done < length) {
            deadline.beforeRead(socket);
            int read = in.read(buffer, offset + done, length - done);
            if (read < 0) {
                throw new EOFException("the server closed the connection in the middle of a PDU");
            }
            done += read;
        }
    }

    /** Thrown when the peer's bytes are not DICOM Upper Layer PDUs. */
    static final class NotDicomException extends IOException {
        private static final long serialVersionUID = 1L;

        NotDicomException(String message) {
            super(message);
        }
    }

    static byte[] associateRequest(String calledAe, String callingAe) {
        ByteArrayOutputStream items = new ByteArrayOutputStream();
        item(items, 0x10, ascii(APPLICATION_CONTEXT));

        ByteArrayOutputStream context = new ByteArrayOutputStream();
        context.write(PRESENTATION_CONTEXT_ID);
        context.write(0);
        context.write(0);
        context.write(0);
        item(context, 0x30, ascii(VERIFICATION_SOP_CLASS));
        item(context, 0x40, ascii(IMPLICIT_VR_LITTLE_ENDIAN));
        item(items, 0x20, context.toByteArray());

        ByteArrayOutputStream user = new ByteArrayOutputStream();
        item(user, 0x51, ByteBuffer.allocate(4).putInt(MAX_PDU).array());
        item(user, 0x52, ascii(IMPLEMENTATION_CLASS_UID));
        item(user, 0x55, ascii(IMPLEMENTATION_VERSION));
        item(items, 0x50, user.toByteArray());

        ByteBuffer body = ByteBuffer.allocate(68 + items.size());
        body.putShort((short) 1);          // protocol version
        body.putShort((short) 0);
        body.put(aeTitle(calledAe));
        body.put(aeTitle(callingAe));
        body.put(new byte[32]);
        body.put(items.toByteArray());
        return pdu(A_ASSOCIATE_RQ, body.array());
    }

    /** A C-ECHO-RQ command set in one P-DATA-TF (implicit VR little endian, group length first). */
    static byte[] echoRequest() {
        ByteBuffer elements = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        byte[] sopClass = uid(VERIFICATION_SOP_CLASS);
        element(elements, 0x0002, sopClass);
        element(elements, 0x0100, shortValue(C_ECHO_RQ));
        element(elements, 0x0110, shortValue(1));          // message id
        element(elements, 0x0800, shortValue(0x0101));     // no data set follows
        int groupLength = elements.position();
        ByteBuffer command = ByteBuffer.allocate(12 + groupLength).order(ByteOrder.LITTLE_ENDIAN);
        element(command, 0x0000, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(groupLength).array());
        command.put(elements.array(), 0, groupLength);

        ByteBuffer pdv = ByteBuffer.allocate(6 + command.capacity());
        pdv.putInt(2 + command.capacity());
        pdv.put((byte) PRESENTATION_CONTEXT_ID);
        pdv.put((byte) 0x03);                               // command, last fragment
        pdv.put(command.array());
        return pdu(P_DATA_TF, pdv.array());
    }

    /** Adds a P-DATA-TF's command fragments to {@code command}; true once the last one is in. */
    private static boolean collectCommand(byte[] body, ByteArrayOutputStream command) throws IOException {
        ByteBuffer items = ByteBuffer.wrap(body);
        boolean last = false;
        while (items.remaining() >= 6) {
            int length = items.getInt();
            if (length < 2 || length > items.remaining()) {
                throw new NotDicomException("malformed P-DATA-TF");
            }
            items.get();                                    // presentation context id
            int control = items.get() & 0xFF;
            byte[] fragment = new byte[length - 2];
            items.get(fragment);
            if ((control & 0x01) != 0) {
                command.write(fragment);
                last |= (control & 0x02) != 0;
                if (command.size() > MAX_COMMAND_BYTES) {
                    throw new NotDicomException("the server sent more than " + MAX_COMMAND_BYTES + " bytes of command"
                            + " fragments without the last one (a C-ECHO-RSP command set is about 100 bytes)");
                }
            }
        }
        return last;
    }

    /** Why an A-ASSOCIATE-AC does not let us echo, or null when Verification was accepted. */
    private static String acceptedProblem(byte[] body) {
        ByteBuffer buffer = ByteBuffer.wrap(body);
        if (buffer.remaining() < 68) {
            return "malformed A-ASSOCIATE-AC";
        }
        buffer.position(68);
        while (buffer.remaining() >= 4) {
            int type = buffer.get() & 0xFF;
            buffer.get();
            int length = buffer.getShort() & 0xFFFF;
            if (length > buffer.remaining()) {
                return "malformed A-ASSOCIATE-AC";
            }
            if (type == 0x21 && length >= 4) {
                int result = buffer.get(buffer.position() + 2) & 0xFF;
                if (result == 0) {
                    return null;
                }
                return "Verification not accepted (" + switch (result) {
                    case 1 -> "user rejection";
                    case 2 -> "no reason";
                    case 3 -> "abstract syntax not supported";
                    case 4 -> "transfer syntax not supported";
                    default -> "result " + result;
                } + ")";
            }
            buffer.position(buffer.position() + length);
        }
        return "A-ASSOCIATE-AC without a presentation context";
    }

    static String rejectReason(byte[] body) {
        if (body.length < 4) {
            return "malformed A-ASSOCIATE-RJ";
        }
        int result = body[1] & 0xFF;
        int source = body[2] & 0xFF;
        int reason = body[3] & 0xFF;
        String why = switch (source) {
            case 1 -> switch (reason) {
                case 1 -> "no reason given";
                case 2 -> "application context name not supported";
                case 3 -> "calling AE title not recognised";
                case 7 -> "called AE title not recognised";
                default -> "service user reason " + reason;
            };
            case 2 -> switch (reason) {
                case 1 -> "no reason given";
                case 2 -> "protocol version not supported";
                default -> "ACSE reason " + reason;
            };
            case 3 -> switch (reason) {
                case 1 -> "temporary congestion";
                case 2 -> "local limit exceeded";
                default -> "presentation reason " + reason;
            };
            default -> "source " + source + " reason " + reason;
        };
        return why + (result == 2 ? ", transient" : "");
    }

    private static String abortReason(byte[] body) {
        if (body.length < 4) {
            return "no reason given";
        }
        int source = body[2] & 0xFF;
        int reason = body[3] & 0xFF;
        return source == 0 ? "by the service user" : "service provider reason " + reason;
    }

    private static CheckResult abort(OutputStream out, String problem) {
        try {
            out.write(pdu(A_ABORT, new byte[4]));
            out.flush();
        } catch (IOException ignored) {
            // the server is gone already
        }
        return CheckResult.down(problem);
    }

    private static void release(OutputStream out, DataInputStream in, Socket socket, Deadline deadline) {
        try {
            out.write(pdu(A_RELEASE_RQ, new byte[4]));
            out.flush();
            readPdu(in, socket, deadline);                // A-RELEASE-RP; the echo has succeeded either way
        } catch (IOException ignored) {
            // a server that drops the connection instead of answering the release is still up
        }
    }

    private static byte[] pdu(int type, byte[] body) {
        ByteBuffer pdu = ByteBuffer.allocate(6 + body.length);
        pdu.put((byte) type);
        pdu.put((byte) 0);
        pdu.putInt(body.length);
        pdu.put(body);
        return pdu.array();
    }

    private static void item(ByteArrayOutputStream out, int type, byte[] value) {
        out.write(type);
        out.write(0);
        out.write((value.length >> 8) & 0xFF);
        out.write(value.length & 0xFF);
        out.writeBytes(value);
    }

    private static void element(ByteBuffer out, int element, byte[] value) {
        out.putShort((short) 0x0000);
        out.putShort((short) element);
        out.putInt(value.length);
        out.put(value);
    }

    private static byte[] shortValue(int value) {
        return ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) value).array();
    }

    /** A UID value, padded with a NUL to an even length (PS3.5). */
    private static byte[] uid(String uid) {
        byte[] text = ascii(uid);
        if (text.length % 2 == 0) {
            return text;
        }
        byte[] padded = new byte[text.length + 1];
        System.arraycopy(text, 0, padded, 0, text.length);
        return padded;
    }

    private static byte[] aeTitle(String title) {
        byte[] padded = new byte[16];
        java.util.Arrays.fill(padded, (byte) ' ');
        byte[] text = ascii(title);
        System.arraycopy(text, 0, padded, 0, Math.min(16, text.length));
        return padded;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    private static String printable(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        for (byte b : bytes) {
            out.append(b >= 0x20 && b < 0x7F ? (char) b : '.');
        }
        return out.toString();
    }
}

package io.baton.health.check;

import io.baton.config.CheckType;
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
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;

/**
 * {@code dicom-echo} and {@code dicom-find}: a minimal DICOM Upper Layer client (PS3.8) that proposes
 * one SOP class with Implicit VR Little Endian, runs one DIMSE operation (PS3.7) and releases the
 * association. {@code dicom-echo} sends a C-ECHO-RQ to the Verification SOP class and expects status
 * 0x0000. {@code dicom-find} sends a C-FIND-RQ to the Study Root Query/Retrieve model at the STUDY
 * level for today's studies (StudyDate today, StudyInstanceUID returned): a bounded query, cancelled
 * (C-CANCEL-RQ) at its first match, so that a busy archive is asked for little; success (0x0000), a
 * pending match (0xFF00, 0xFF01) and the cancel that follows it (0xFE00) are up. Rejections, aborts,
 * failure statuses, peers that do not speak DICOM and timeouts each fail with their own reason.
 */
final class DicomChecker implements Checker {

    static final String VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1";
    static final String STUDY_ROOT_FIND_SOP_CLASS = "1.2.840.10008.5.1.4.1.2.2.1";
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
    /** The longest response command set accepted (a real one is about 100 bytes). */
    static final int MAX_COMMAND_BYTES = 16 * 1024;
    private static final int C_ECHO_RQ = 0x0030;
    private static final int C_ECHO_RSP = 0x8030;
    private static final int C_FIND_RQ = 0x0020;
    private static final int C_FIND_RSP = 0x8020;
    private static final int C_CANCEL_RQ = 0x0FFF;
    private static final int NO_DATA_SET = 0x0101;
    private static final int MESSAGE_ID = 1;
    private static final int STATUS_SUCCESS = 0x0000;
    private static final int STATUS_CANCEL = 0xFE00;
    private static final int TAG_COMMAND_FIELD = 0x00000100;
    private static final int TAG_STATUS = 0x00000900;
    private static final int TAG_ERROR_COMMENT = 0x00000902;
    private static final DateTimeFormatter DICOM_DATE = DateTimeFormatter.BASIC_ISO_DATE;

    private final boolean find;
    private final String operation;
    private final String sopClassName;

    DicomChecker(CheckType type) {
        this.find = type == CheckType.DICOM_FIND;
        this.operation = find ? "C-FIND" : "C-ECHO";
        this.sopClassName = find ? "Study Root Query/Retrieve FIND" : "Verification";
    }

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        HealthCheck check = target.check();
        deadline.phaseOnceConnected("sending A-ASSOCIATE-RQ");
        try (Socket socket = deadline.connect(target.host(), target.port())) {
            OutputStream out = socket.getOutputStream();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            out.write(associateRequest(check.calledAeTitle(), check.callingAeTitle(),
                    find ? STUDY_ROOT_FIND_SOP_CLASS : VERIFICATION_SOP_CLASS));
            out.flush();

            deadline.phase("waiting for the answer to A-ASSOCIATE-RQ");
            Pdu answer = readPdu(in, socket, deadline);
            switch (answer.type()) {
                case A_ASSOCIATE_AC -> {
                    String problem = acceptedProblem(answer.body(), sopClassName);
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

            if (find) {
                out.write(findRequest(LocalDate.now()));
            } else {
                out.write(echoRequest());
            }
            out.flush();
            deadline.phase("waiting for the " + operation + "-RSP");
            Responses responses = new Responses(in, socket, deadline);
            boolean matched = false;
            while (true) {
                Response response;
                try {
                    response = responses.next();
                } catch (ProblemException e) {
                    return abort(out, e.getMessage());
                }
                if (response.aborted() != null) {
                    return CheckResult.down("association aborted by the server after " + operation + "-RQ ("
                            + response.aborted() + ")");
                }
                int expected = find ? C_FIND_RSP : C_ECHO_RSP;
                if (response.command() == null || response.command() != expected) {
                    return abort(out, "answer is not a " + operation + "-RSP (command field 0x"
                            + Integer.toHexString(response.command() == null ? 0 : response.command()) + ")");
                }
                int status = response.status();
                if (find && isPending(status)) {
                    if (!matched) {
                        matched = true;
                        out.write(cancelRequest());
                        out.flush();
                        deadline.phase("waiting for the C-FIND to end after C-CANCEL-RQ");
                    }
                    continue;
                }
                release(out, in, socket, deadline);
                return judge(status, matched, response.errorComment());
            }
        }
    }

    private CheckResult judge(int status, boolean matched, String errorComment) {
        String comment = errorComment == null || errorComment.isBlank() ? "" : ": " + errorComment.strip();
        if (status == STATUS_SUCCESS) {
            return CheckResult.up(String.format("%s status 0x0000%s", operation,
                    find ? (matched ? " (a study of today matched)" : " (no study of today)") : ""));
        }
        if (find && status == STATUS_CANCEL && matched) {
            return CheckResult.up("C-FIND matched a study of today (cancelled after the first match)");
        }
        return CheckResult.down(String.format("%s status 0x%04X%s%s", operation, status, statusMeaning(status), comment));
    }

    private static boolean isPending(int status) {
        return status == 0xFF00 || status == 0xFF01;
    }

    /** What a failure or warning status means (PS3.4 C.4.1.1.4, PS3.7 C), in words; empty when unknown. */
    static String statusMeaning(int status) {
        if ((status & 0xF000) == 0xC000) {
            return " (unable to process)";
        }
        return switch (status) {
            case 0xA700 -> " (refused: out of resources)";
            case 0xA900 -> " (identifier does not match SOP class)";
            case 0x0122 -> " (SOP class not supported)";
            case 0x0211 -> " (unrecognized operation)";
            case 0xFE00 -> " (cancelled)";
            case 0x0110 -> " (processing failure)";
            default -> "";
        };
    }

    /** One DIMSE response: its command field, status and error comment, or why the server aborted instead. */
    private record Response(Integer command, int status, String errorComment, String aborted) {
    }

    /** Reads response command sets from P-DATA-TF PDUs, skipping their data sets (query matches). */
    private static final class Responses {
        private final DataInputStream in;
        private final Socket socket;
        private final Deadline deadline;
        private final ArrayDeque<byte[]> values = new ArrayDeque<>();
        private final ArrayDeque<Integer> controls = new ArrayDeque<>();

        Responses(DataInputStream in, Socket socket, Deadline deadline) {
            this.in = in;
            this.socket = socket;
            this.deadline = deadline;
        }

        Response next() throws IOException {
            ByteArrayOutputStream command = new ByteArrayOutputStream();
            while (true) {
                while (values.isEmpty()) {
                    Pdu pdu = readPdu(in, socket, deadline);
                    if (pdu.type() == A_ABORT) {
                        return new Response(null, 0, null, abortReason(pdu.body()));
                    }
                    if (pdu.type() != P_DATA_TF) {
                        throw new ProblemException("unexpected PDU type 0x" + Integer.toHexString(pdu.type())
                                + " instead of P-DATA-TF");
                    }
                    split(pdu.body());
                }
                byte[] fragment = values.poll();
                int control = controls.poll();
                if ((control & 0x01) == 0) {
                    continue;                               // a data set: a match, not needed
                }
                command.write(fragment);
                if (command.size() > MAX_COMMAND_BYTES) {
                    throw new NotDicomException("the server sent more than " + MAX_COMMAND_BYTES + " bytes of command"
                            + " fragments without the last one (a response command set is about 100 bytes)");
                }
                if ((control & 0x02) != 0) {
                    return parse(command.toByteArray());
                }
            }
        }

        private void split(byte[] body) throws NotDicomException {
            ByteBuffer items = ByteBuffer.wrap(body);
            while (items.remaining() >= 6) {
                int length = items.getInt();
                if (length < 2 || length > items.remaining()) {
                    throw new NotDicomException("malformed P-DATA-TF");
                }
                items.get();                                // presentation context id
                int control = items.get() & 0xFF;
                byte[] fragment = new byte[length - 2];
                items.get(fragment);
                values.add(fragment);
                controls.add(control);
            }
        }

        private static Response parse(byte[] command) throws ProblemException {
            ByteBuffer elements = ByteBuffer.wrap(command).order(ByteOrder.LITTLE_ENDIAN);
            Integer field = null;
            Integer status = null;
            String comment = null;
            while (elements.remaining() >= 8) {
                int tag = (elements.getShort() & 0xFFFF) << 16 | (elements.getShort() & 0xFFFF);
                int length = elements.getInt();
                if (length < 0 || length > elements.remaining()) {
                    throw new ProblemException("malformed response command set");
                }
                if (tag == TAG_COMMAND_FIELD && length == 2) {
                    field = elements.getShort(elements.position()) & 0xFFFF;
                } else if (tag == TAG_STATUS && length == 2) {
                    status = elements.getShort(elements.position()) & 0xFFFF;
                } else if (tag == TAG_ERROR_COMMENT) {
                    byte[] text = new byte[Math.min(length, 64)];
                    elements.get(elements.position(), text);
                    comment = Printable.ascii(text, 0, text.length);
                }
                elements.position(elements.position() + length);
            }
            if (status == null) {
                throw new ProblemException("response without a status"
                        + (field == null ? "" : " (command field 0x" + Integer.toHexString(field) + ")"));
            }
            return new Response(field, status, comment, null);
        }
    }

    /** A problem with what the server said, after which the association is aborted. */
    private static final class ProblemException extends IOException {
        private static final long serialVersionUID = 1L;

        ProblemException(String message) {
            super(message);
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

    static byte[] associateRequest(String calledAe, String callingAe, String sopClass) {
        ByteArrayOutputStream items = new ByteArrayOutputStream();
        item(items, 0x10, ascii(APPLICATION_CONTEXT));

        ByteArrayOutputStream context = new ByteArrayOutputStream();
        context.write(PRESENTATION_CONTEXT_ID);
        context.write(0);
        context.write(0);
        context.write(0);
        item(context, 0x30, ascii(sopClass));
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
        element(elements, 0x0000, 0x0002, uid(VERIFICATION_SOP_CLASS));
        element(elements, 0x0000, 0x0100, shortValue(C_ECHO_RQ));
        element(elements, 0x0000, 0x0110, shortValue(MESSAGE_ID));
        element(elements, 0x0000, 0x0800, shortValue(NO_DATA_SET));
        return pdu(P_DATA_TF, pdv(0x03, command(elements)));
    }

    /**
     * A C-FIND-RQ at the STUDY level of the Study Root model for the studies of {@code today}, its command
     * set and identifier each in one P-DATA-TF.
     */
    static byte[] findRequest(LocalDate today) {
        ByteBuffer elements = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        element(elements, 0x0000, 0x0002, uid(STUDY_ROOT_FIND_SOP_CLASS));
        element(elements, 0x0000, 0x0100, shortValue(C_FIND_RQ));
        element(elements, 0x0000, 0x0110, shortValue(MESSAGE_ID));
        element(elements, 0x0000, 0x0700, shortValue(0));          // priority: medium
        element(elements, 0x0000, 0x0800, shortValue(0x0000));     // a data set (the identifier) follows
        byte[] command = pdu(P_DATA_TF, pdv(0x03, command(elements)));

        ByteBuffer identifier = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        element(identifier, 0x0008, 0x0020, ascii(DICOM_DATE.format(today)));   // StudyDate: today only
        element(identifier, 0x0008, 0x0052, ascii("STUDY "));                  // QueryRetrieveLevel
        element(identifier, 0x0020, 0x000D, new byte[0]);                       // StudyInstanceUID: returned
        byte[] data = new byte[identifier.position()];
        identifier.get(0, data);
        byte[] dataPdu = pdu(P_DATA_TF, pdv(0x02, data));                       // data set, last fragment

        return ByteBuffer.allocate(command.length + dataPdu.length).put(command).put(dataPdu).array();
    }

    /** A C-CANCEL-RQ for the C-FIND: no more matches are wanted. */
    static byte[] cancelRequest() {
        ByteBuffer elements = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        element(elements, 0x0000, 0x0100, shortValue(C_CANCEL_RQ));
        element(elements, 0x0000, 0x0120, shortValue(MESSAGE_ID));  // the message being cancelled
        element(elements, 0x0000, 0x0800, shortValue(NO_DATA_SET));
        return pdu(P_DATA_TF, pdv(0x03, command(elements)));
    }

    /** A command set: the group length element, then the elements written so far. */
    private static byte[] command(ByteBuffer elements) {
        int groupLength = elements.position();
        ByteBuffer command = ByteBuffer.allocate(12 + groupLength).order(ByteOrder.LITTLE_ENDIAN);
        element(command, 0x0000, 0x0000, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(groupLength).array());
        command.put(elements.array(), 0, groupLength);
        return command.array();
    }

    /** One presentation data value item: {@code control} 0x03 a last command fragment, 0x02 a last data fragment. */
    private static byte[] pdv(int control, byte[] value) {
        ByteBuffer pdv = ByteBuffer.allocate(6 + value.length);
        pdv.putInt(2 + value.length);
        pdv.put((byte) PRESENTATION_CONTEXT_ID);
        pdv.put((byte) control);
        pdv.put(value);
        return pdv.array();
    }

    /** Why an A-ASSOCIATE-AC does not let us run the operation, or null when the SOP class was accepted. */
    private static String acceptedProblem(byte[] body, String sopClassName) {
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
                return sopClassName + " not accepted (" + switch (result) {
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

    private static void element(ByteBuffer out, int group, int element, byte[] value) {
        out.putShort((short) group);
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
        return Printable.ascii(bytes, 0, bytes.length);
    }
}

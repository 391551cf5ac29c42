package io.baton.health.check;

import io.baton.config.CheckType;
import io.baton.health.CheckResult;
import io.baton.health.CheckScripts;
import io.baton.health.CheckTarget;

/** One kind of health check. Blocking, but never past the deadline. */
public interface Checker {

    CheckResult check(CheckTarget target, Deadline deadline) throws Exception;

    /** @param scripts the programs an {@code external} check may run */
    static Checker of(CheckType type, CheckScripts scripts) {
        return switch (type) {
            case CONNECT -> new ConnectChecker();
            case HTTP, HTTPS -> new HttpChecker();
            case DICOM_ECHO, DICOM_FIND -> new DicomChecker(type);
            case HL7 -> new Hl7Checker();
            case SMTP, FTP, POP3, IMAP -> new GreetingChecker(type);
            case EXTERNAL -> new ExternalChecker(scripts);
            case NONE -> throw new IllegalArgumentException("type none runs no checks");
        };
    }
}

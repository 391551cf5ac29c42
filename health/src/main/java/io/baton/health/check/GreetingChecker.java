package io.baton.health.check;

import io.baton.config.CheckType;
import io.baton.health.CheckResult;
import io.baton.health.CheckTarget;
import org.apache.commons.net.SocketClient;
import org.apache.commons.net.ftp.FTPClient;
import org.apache.commons.net.ftp.FTPReply;
import org.apache.commons.net.imap.IMAPClient;
import org.apache.commons.net.pop3.POP3Client;
import org.apache.commons.net.smtp.SMTPClient;
import org.apache.commons.net.smtp.SMTPReply;

/**
 * {@code smtp}, {@code ftp}, {@code pop3}, {@code imap}: connect and expect the protocol's
 * positive greeting (Apache Commons Net reads and parses it).
 */
final class GreetingChecker implements Checker {

    private final CheckType type;

    GreetingChecker(CheckType type) {
        this.type = type;
    }

    private String name() {
        return type.configName().toUpperCase(java.util.Locale.ROOT);
    }

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        SocketClient client = switch (type) {
            case SMTP -> new SMTPClient();
            case FTP -> new FTPClient();
            case POP3 -> new POP3Client();
            default -> new IMAPClient();
        };
        // the deadline's sockets: closed at the deadline, and bounded in what they read (Commons Net
        // reads a multi-line greeting for as long as its lines keep coming)
        client.setSocketFactory(deadline.socketFactory());
        client.setConnectTimeout(deadline.remainingMillis());
        client.setDefaultTimeout(deadline.remainingMillis());
        try {
            deadline.phaseOnceConnected("reading the " + name() + " greeting");
            client.connect(target.host(), target.port());
            return judge(client);
        } finally {
            if (client.isConnected()) {
                client.disconnect();
            }
        }
    }

    private CheckResult judge(SocketClient client) {
        String name = name();
        String greeting;
        boolean positive;
        switch (type) {
            case SMTP -> {
                SMTPClient smtp = (SMTPClient) client;
                greeting = smtp.getReplyString();
                positive = SMTPReply.isPositiveCompletion(smtp.getReplyCode());
            }
            case FTP -> {
                FTPClient ftp = (FTPClient) client;
                greeting = ftp.getReplyString();
                positive = FTPReply.isPositiveCompletion(ftp.getReplyCode());
            }
            case POP3 -> {
                greeting = ((POP3Client) client).getReplyString();
                positive = greeting != null && greeting.startsWith("+OK");
            }
            default -> {
                greeting = ((IMAPClient) client).getReplyString();
                positive = greeting != null && (greeting.startsWith("* OK") || greeting.startsWith("* PREAUTH"));
            }
        }
        String shown = greeting == null ? "(none)" : HttpChecker.abbreviate(greeting.strip());
        return positive ? CheckResult.up(name + " greeting " + shown)
                : CheckResult.down(name + " greeting is not positive: " + shown);
    }
}

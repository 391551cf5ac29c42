package io.baton.config;

/** How the health of a real server is checked. */
public enum CheckType implements ConfigName {
    CONNECT("connect"),
    HTTP("http"),
    HTTPS("https"),
    DICOM_ECHO("dicom-echo"),
    SMTP("smtp"),
    FTP("ftp"),
    POP3("pop3"),
    IMAP("imap"),
    EXTERNAL("external"),
    NONE("none");

    private final String configName;

    CheckType(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }

    public boolean isHttp() {
        return this == HTTP || this == HTTPS;
    }
}

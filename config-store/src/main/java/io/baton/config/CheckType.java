package io.baton.config;

/** How the health of a real server is checked. */
public enum CheckType implements ConfigName {
    CONNECT("connect"),
    HTTP("http"),
    HTTPS("https"),
    DICOM_ECHO("dicom-echo"),
    DICOM_FIND("dicom-find"),
    HL7("hl7"),
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

    /** A DICOM association check, whose AE titles are configured. */
    public boolean isDicom() {
        return this == DICOM_ECHO || this == DICOM_FIND;
    }
}

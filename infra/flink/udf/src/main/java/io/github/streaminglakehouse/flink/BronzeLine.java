package io.github.streaminglakehouse.flink;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Base64;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.io.JsonStringEncoder;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code lakehouse_bronze_line(payload BYTES, format STRING, topic STRING, partition INT, offset BIGINT,
 * timestamp TIMESTAMP_LTZ(3), key BYTES)}: the bronze line of a valid record, as the bronze path writes it
 * (assets/bronze/transform.py): the payload's own bytes with {@code processed_at} and {@code _kafka} spliced in
 * before its closing brace ({@code {"value": ...}} for a text topic). No row is serialized field by field, and
 * timestamps are formatted from a per-second cache, so a line costs little more than a copy of its payload.
 *
 * <p>{@code processed_at} is the time of the call: the function is not deterministic.
 */
public final class BronzeLine extends ScalarFunction {

    // 9999-12-31T23:59:59.999Z: a later Kafka timestamp cannot be rendered by every reader (transform.py).
    private static final long MAX_TIMESTAMP_MS = 253_402_300_799_999L;
    private static final DateTimeFormatter SECONDS =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);
    private static final byte[] PROCESSED_AT = ascii("\"processed_at\":\"");
    private static final byte[] KAFKA_TOPIC = ascii("\",\"_kafka\":{\"topic\":\"");
    private static final byte[] PARTITION = ascii("\",\"partition\":");
    private static final byte[] OFFSET = ascii(",\"offset\":");
    private static final byte[] TIMESTAMP = ascii(",\"timestamp\":");
    private static final byte[] KEY = ascii(",\"key\":");
    private static final byte[] NULL = ascii("null");
    private static final byte[] END = ascii("}}");

    private transient byte[] buffer;
    private transient int size;
    private transient String topic;
    private transient byte[] topicJson;
    private transient SecondCache processedSeconds;
    private transient SecondCache kafkaSeconds;

    /** The text of the last second seen ("2026-01-01T00:00:00"), so most timestamps cost no formatting. */
    private static final class SecondCache {
        long second = Long.MIN_VALUE;
        byte[] text;

        byte[] of(long second) {
            if (second != this.second) {
                text = ascii(SECONDS.format(Instant.ofEpochSecond(second)));
                this.second = second;
            }
            return text;
        }
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }

    public byte[] eval(byte[] payload, String format, String topic, Integer partition, Long offset,
                       @DataTypeHint(value = "TIMESTAMP_LTZ(3)", bridgedTo = TimestampData.class)
                       TimestampData timestamp, byte[] key) {
        if (buffer == null) {
            buffer = new byte[1024];
            processedSeconds = new SecondCache();
            kafkaSeconds = new SecondCache();
        }
        if (!topic.equals(this.topic)) {
            this.topic = topic;
            this.topicJson = JsonStringEncoder.getInstance().quoteAsUTF8(topic);
        }
        size = 0;
        if ("text".equals(format)) {
            String text = new String(payload, StandardCharsets.UTF_8).replaceAll("[\r\n]+$", "");
            write(ascii("{\"value\":\""));
            write(JsonStringEncoder.getInstance().quoteAsUTF8(text));
            write(ascii("\","));
        } else {
            body(payload);
        }
        write(PROCESSED_AT);
        iso(processedSeconds, System.currentTimeMillis());
        write(KAFKA_TOPIC);
        write(topicJson);
        write(PARTITION);
        number(partition);
        write(OFFSET);
        number(offset);
        write(TIMESTAMP);
        long millis = timestamp == null ? -1 : timestamp.getMillisecond();
        if (millis < 0 || millis > MAX_TIMESTAMP_MS) {
            write(NULL);
        } else {
            write((byte) '"');
            iso(kafkaSeconds, millis);
            write((byte) '"');
        }
        write(KEY);
        key(key);
        write(END);
        return Arrays.copyOf(buffer, size);
    }

    /** The payload object up to where bronze's fields go: without its closing brace, with a comma when needed. */
    private void body(byte[] payload) {
        int end = payload.length;
        while (end > 0 && isJsonSpace(payload[end - 1])) {
            end--;
        }
        end--; // the closing brace
        int last = end - 1;
        while (last >= 0 && isJsonSpace(payload[last])) {
            last--;
        }
        int start = size;
        write(payload, 0, end);
        for (int i = start; i < size; i++) {
            if (buffer[i] == '\n' || buffer[i] == '\r') {
                buffer[i] = ' '; // JSON whitespace: raw line breaks are never inside a string
            }
        }
        if (last >= 0 && payload[last] != '{') {
            write((byte) ',');
        }
    }

    private void key(byte[] key) {
        if (key == null) {
            write(NULL);
        } else if (plainAscii(key)) {
            write((byte) '"');
            write(key, 0, key.length);
            write((byte) '"');
        } else if (Checker.notUtf8Reason(key) == null) {
            write((byte) '"');
            write(JsonStringEncoder.getInstance().quoteAsUTF8(new String(key, StandardCharsets.UTF_8)));
            write((byte) '"');
        } else {
            write(NULL);
            write(ascii(",\"key_base64\":\"" + Base64.getEncoder().encodeToString(key) + "\""));
        }
    }

    /** Epoch milliseconds as 2026-01-01T00:00:00.123Z. */
    private void iso(SecondCache seconds, long millis) {
        write(seconds.of(Math.floorDiv(millis, 1000L)));
        int ms = (int) Math.floorMod(millis, 1000L);
        ensure(5);
        buffer[size++] = '.';
        buffer[size++] = (byte) ('0' + ms / 100);
        buffer[size++] = (byte) ('0' + ms / 10 % 10);
        buffer[size++] = (byte) ('0' + ms % 10);
        buffer[size++] = 'Z';
    }

    private void number(long value) {
        write(ascii(Long.toString(value)));
    }

    private void write(byte b) {
        ensure(1);
        buffer[size++] = b;
    }

    private void write(byte[] bytes) {
        write(bytes, 0, bytes.length);
    }

    private void write(byte[] bytes, int from, int to) {
        ensure(to - from);
        System.arraycopy(bytes, from, buffer, size, to - from);
        size += to - from;
    }

    private void ensure(int more) {
        if (size + more > buffer.length) {
            buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, size + more));
        }
    }

    /** ASCII without quotes, backslashes or control characters: a JSON string as it is. */
    private static boolean plainAscii(byte[] bytes) {
        for (byte b : bytes) {
            if (b < 0x20 || b == '"' || b == '\\') {
                return false;
            }
        }
        return true;
    }

    private static boolean isJsonSpace(byte b) {
        return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}

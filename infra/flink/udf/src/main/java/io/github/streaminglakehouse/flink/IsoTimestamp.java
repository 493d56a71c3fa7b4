package io.github.streaminglakehouse.flink;

import java.time.DateTimeException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * The instant of a timestamp that already matches the schema's pattern (assets/bronze/schemas.py,
 * TIMESTAMP_PATTERN: {@code YYYY-MM-DD[T ]hh:mm:ss[.ffffff][Z|±hh:mm]}, no offset = UTC), as Python's
 * {@code datetime.fromisoformat} reads it: null when it names no real date or time (2026-02-30). The pattern fixed
 * every position, so the digits are read where they stand; the date and time to the second of the last call is
 * remembered, as events come in time order and many share a second.
 */
final class IsoTimestamp {

    private String lastText; // the last timestamp's first 19 characters and their epoch second (local time)
    private long lastSecond;

    /** Epoch microseconds of `text` (which matches the schema's pattern), or null. */
    Long epochMicros(String text) {
        try {
            long local;
            if (lastText != null && text.regionMatches(0, lastText, 0, 19)) {
                local = lastSecond;
            } else {
                local = LocalDateTime.of(digits(text, 0, 4), digits(text, 5, 7), digits(text, 8, 10),
                        digits(text, 11, 13), digits(text, 14, 16), digits(text, 17, 19)).toEpochSecond(ZoneOffset.UTC);
                lastText = text.substring(0, 19);
                lastSecond = local;
            }
            int at = 19;
            int micros = 0;
            if (at < text.length() && text.charAt(at) == '.') {
                int end = at + 1;
                while (end < text.length() && Character.isDigit(text.charAt(end))) {
                    end++;
                }
                micros = digits(text, at + 1, end);
                for (int n = end - at - 1; n < 6; n++) {
                    micros *= 10;
                }
                at = end;
            }
            int offsetSeconds = 0;
            if (at < text.length() && text.charAt(at) != 'Z') {
                int sign = text.charAt(at) == '-' ? -1 : 1;
                offsetSeconds = sign * (digits(text, at + 1, at + 3) * 3600 + digits(text, at + 4, at + 6) * 60);
            }
            return Math.addExact(Math.multiplyExact(local - offsetSeconds, 1_000_000L), micros);
        } catch (DateTimeException | ArithmeticException | IndexOutOfBoundsException e) {
            return null;
        }
    }

    private static int digits(String text, int from, int to) {
        int value = 0;
        for (int i = from; i < to; i++) {
            int digit = text.charAt(i) - '0';
            if (digit < 0 || digit > 9) {
                throw new DateTimeException("not a digit at " + i + " of " + text);
            }
            value = value * 10 + digit;
        }
        return value;
    }
}

package io.github.streaminglakehouse.flink;

import java.time.DateTimeException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The instant of a timestamp that already matches the schema's pattern (assets/bronze/schemas.py,
 * TIMESTAMP_PATTERN: {@code YYYY-MM-DD[T ]hh:mm:ss[.ffffff][Z|±hh:mm]}, no offset = UTC), as Python's
 * {@code datetime.fromisoformat} reads it: null when it names no real date or time (2026-02-30).
 */
final class IsoTimestamp {

    private static final Pattern PARTS = Pattern.compile(
            "(\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,6}))?(Z|[+-]\\d{2}:\\d{2})?");

    private IsoTimestamp() {}

    /** Epoch microseconds of `text`, or null. */
    static Long epochMicros(String text) {
        Matcher m = PARTS.matcher(text);
        if (!m.matches()) {
            return null;
        }
        try {
            int micros = m.group(7) == null ? 0 : Integer.parseInt((m.group(7) + "00000").substring(0, 6));
            LocalDateTime local = LocalDateTime.of(
                    Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                    Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)), Integer.parseInt(m.group(6)));
            long seconds = local.toEpochSecond(offset(m.group(8)));
            return Math.addExact(Math.multiplyExact(seconds, 1_000_000L), micros);
        } catch (DateTimeException | ArithmeticException e) {
            return null;
        }
    }

    private static ZoneOffset offset(String zone) {
        if (zone == null || zone.equals("Z")) {
            return ZoneOffset.UTC;
        }
        int sign = zone.charAt(0) == '-' ? -1 : 1;
        return ZoneOffset.ofHoursMinutes(sign * Integer.parseInt(zone.substring(1, 3)),
                                         sign * Integer.parseInt(zone.substring(4, 6)));
    }
}

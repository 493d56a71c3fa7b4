package io.github.streaminglakehouse.flink;

import java.time.Instant;
import java.util.Arrays;

import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * An order event checked with the bronze path's rules ({@link Checker}; the {@code schema} argument is
 * assets/bronze/schemas.Orders as JSON, {@link Schema}) and parsed once, as a row: {@link OrderCheck} with the
 * event's fields, {@link OrderValidity} without them (it reads no more of the payload than the checks need).
 *
 * <p>The planner calls the function once per field it reads from the row, and once more for the watermark (the
 * source's computed {@code event_time}); those calls for one record come from one task thread in a row, so each
 * thread remembers its last payload and answer, and a payload is parsed once.
 */
abstract class OrderFunction extends ScalarFunction {

    /** A thread's last call: its arguments, its checker and its answer. */
    static final class Last {
        byte[] payload;
        String spec;
        int maxBytes;
        Checker checker;
        int[] slots; // fields()[i] is checker.wanted[slots[i]]
        RowData row;
        long hour = Long.MIN_VALUE; // the last event hour (epoch hours) and its partition values
        StringData dt;
        StringData hh;
    }

    /** The payload fields the row carries, after `reason` (amount as DOUBLE, the others as STRING). */
    abstract String[] fields();

    /** This function's per-thread memory (one per function: the rows differ). */
    abstract ThreadLocal<Last> memory();

    final RowData evaluate(byte[] payload, String schemaSpec, Integer maxMessageBytes) {
        Last last = memory().get();
        int maxBytes = maxMessageBytes == null ? Integer.MAX_VALUE : maxMessageBytes;
        boolean sameChecker = last.checker != null && maxBytes == last.maxBytes
                && (schemaSpec == last.spec || schemaSpec.equals(last.spec));
        if (sameChecker && last.row != null
                && (payload == last.payload || (payload != null && Arrays.equals(payload, last.payload)))) {
            return last.row;
        }
        if (!sameChecker) {
            Checker checker = new Checker(Schema.parse(schemaSpec), fields(), maxBytes);
            last.checker = checker;
            last.slots = Arrays.stream(fields()).mapToInt(f -> Arrays.asList(checker.wanted).indexOf(f)).toArray();
            last.spec = schemaSpec;
            last.maxBytes = maxBytes;
        }
        last.payload = payload;
        last.row = check(payload, last);
        return last.row;
    }

    /** The row: reason, the fields, event_time, dt, hour. */
    private RowData check(byte[] payload, Last last) {
        String[] fields = fields();
        Checker checker = last.checker;
        Value[] found = new Value[checker.wanted.length];
        long[] eventMicros = {Long.MIN_VALUE};
        GenericRowData row = new GenericRowData(fields.length + 4);
        String reason = checker.check(payload, found, eventMicros);
        if (reason != null) {
            row.setField(0, StringData.fromString(reason));
            return row;
        }
        for (int i = 0; i < fields.length; i++) {
            Value value = found[last.slots[i]];
            if (value == null || !(value.isString() || value.isNumber())) {
                continue;
            }
            row.setField(1 + i, value.isNumber() ? (Object) value.number : StringData.fromString(value.text));
        }
        if (eventMicros[0] != Long.MIN_VALUE) {
            long millis = Math.floorDiv(eventMicros[0], 1000L);
            row.setField(fields.length + 1, TimestampData.fromEpochMillis(millis));
            long hour = Math.floorDiv(millis, 3_600_000L);
            if (hour != last.hour) {
                String iso = Instant.ofEpochSecond(hour * 3600).toString(); // 2026-01-01T07:00:00Z
                last.dt = StringData.fromString(iso.substring(0, iso.indexOf('T')));
                last.hh = StringData.fromString(iso.substring(iso.indexOf('T') + 1, iso.indexOf('T') + 3));
                last.hour = hour;
            }
            row.setField(fields.length + 2, last.dt);
            row.setField(fields.length + 3, last.hh);
        }
        return row;
    }
}

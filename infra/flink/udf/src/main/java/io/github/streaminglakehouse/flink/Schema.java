package io.github.streaminglakehouse.flink;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A topic schema as assets/bronze/schemas.py declares it (a msgspec Struct), rendered to JSON by
 * assets/flink/pipelines.py and passed to the functions as a SQL literal:
 * <pre>{"name": "orders", "event_time": "created_at", "earliest_us": ..., "latest_us": ...,
 *  "fields": [{"name": "amount", "type": "number", "required": true, "nullable": false,
 *              "ge": -999999999999.99, "le": 999999999999.99, "words": "a number from ..."}, ...]}</pre>
 * Field types are {@code string} and {@code number}; constraints {@code pattern} (a Python regex the renderer made
 * Java's), {@code ge}, {@code le}, {@code min_length}, {@code max_length}. The renderer refuses a constraint this
 * class does not check, so the two cannot drift apart silently.
 */
final class Schema {

    final String name;
    final String[] fields;
    final int eventTime; // index of the event-time field in `fields`, or -1
    private final Field[] checks;
    private final Pattern eventTimePattern;
    private final long earliestMicros;
    private final long latestMicros;
    // A Schema serves one thread (OrderFunction's memory): a matcher and the timestamp cache are its own.
    private final IsoTimestamp timestamps = new IsoTimestamp();
    private final Matcher eventTimeMatcher;

    /** One declared field. */
    private static final class Field {
        String name;
        boolean number;
        boolean required;
        boolean nullable;
        Pattern pattern;
        Double ge;
        Double le;
        Integer minLength;
        Integer maxLength;
        String words;
    }

    private Schema(String name, Field[] checks, int eventTime, Pattern eventTimePattern, long earliestMicros,
                   long latestMicros) {
        this.name = name;
        this.checks = checks;
        this.fields = new String[checks.length];
        for (int i = 0; i < checks.length; i++) {
            fields[i] = checks[i].name;
        }
        this.eventTime = eventTime;
        this.eventTimePattern = eventTimePattern;
        this.eventTimeMatcher = eventTimePattern == null ? null : eventTimePattern.matcher("");
        this.earliestMicros = earliestMicros;
        this.latestMicros = latestMicros;
    }

    static Schema parse(String spec) {
        try {
            JsonNode root = new ObjectMapper().readTree(spec);
            List<Field> checks = new ArrayList<>();
            int eventTime = -1;
            for (Iterator<JsonNode> it = root.get("fields").elements(); it.hasNext(); ) {
                JsonNode node = it.next();
                Field field = new Field();
                field.name = node.get("name").asText();
                field.number = node.get("type").asText().equals("number");
                field.required = node.get("required").asBoolean();
                field.nullable = node.get("nullable").asBoolean();
                field.pattern = node.hasNonNull("pattern") ? Pattern.compile(node.get("pattern").asText()) : null;
                field.ge = node.hasNonNull("ge") ? node.get("ge").asDouble() : null;
                field.le = node.hasNonNull("le") ? node.get("le").asDouble() : null;
                field.minLength = node.hasNonNull("min_length") ? node.get("min_length").asInt() : null;
                field.maxLength = node.hasNonNull("max_length") ? node.get("max_length").asInt() : null;
                field.words = node.get("words").asText();
                if (field.name.equals(root.path("event_time").asText())) {
                    eventTime = checks.size();
                }
                checks.add(field);
            }
            Pattern grammar = root.hasNonNull("event_time_pattern")
                    ? Pattern.compile(root.get("event_time_pattern").asText()) : null;
            return new Schema(root.get("name").asText(), checks.toArray(new Field[0]), eventTime, grammar,
                              root.path("earliest_us").asLong(Long.MIN_VALUE),
                              root.path("latest_us").asLong(Long.MAX_VALUE));
        } catch (IOException e) {
            throw new UncheckedIOException("not a schema spec: " + spec, e);
        }
    }

    /** Whether the checks need a string's text in field `slot`, not only that it is a string (a string where a
     * number belongs is read for the reason). */
    boolean needsText(int slot) {
        Field field = checks[slot];
        return slot == eventTime || field.number || field.pattern != null || field.minLength != null
                || field.maxLength != null;
    }

    /** Why `value` of field `slot` breaks the schema (as msgspec words it), or null when it fits. */
    String violation(int slot, Value value) {
        Field field = checks[slot];
        if (value.isNull() ? field.nullable : conforms(field, value)) {
            return null;
        }
        return "schema " + name + ": field '" + field.name + "' must be " + field.words + ", got " + value.repr();
    }

    /** The first required field absent from `found` (indexed like `fields`), or null. */
    String missing(Value[] found) {
        for (int i = 0; i < checks.length; i++) {
            if (checks[i].required && found[i] == null) {
                return "schema " + name + ": missing field '" + checks[i].name + "'";
            }
        }
        return null;
    }

    /**
     * Why the event-time field's value (a string, as the schema wants) does not follow the timestamp grammar or
     * names no real instant in the range every reader handles (schemas.event_time), or null; then eventMicros[0]
     * holds the instant in epoch microseconds.
     */
    String eventTime(Value value, long[] eventMicros) {
        if (value == null || value.isNull()) {
            return null;
        }
        Long micros = null;
        String problem;
        if (eventTimePattern != null && !eventTimeMatcher.reset(value.text).find()) {
            problem = "must be " + checks[eventTime].words;
        } else if ((micros = timestamps.epochMicros(value.text)) == null) {
            problem = "is no real date and time";
        } else if (micros < earliestMicros || micros > latestMicros) {
            problem = "is outside the range every reader handles";
        } else {
            problem = null;
        }
        if (problem == null) {
            eventMicros[0] = micros;
            return null;
        }
        return "schema " + name + ": field '" + fields[eventTime] + "' " + problem + ", got " + value.repr();
    }

    private static boolean conforms(Field field, Value value) {
        if (field.number) {
            return value.isNumber() && (field.ge == null || value.number >= field.ge)
                    && (field.le == null || value.number <= field.le);
        }
        if (!value.isString()) {
            return false;
        }
        String text = value.text;
        if (field.minLength != null || field.maxLength != null) {
            int length = text.codePointCount(0, text.length());
            if ((field.minLength != null && length < field.minLength)
                    || (field.maxLength != null && length > field.maxLength)) {
                return false;
            }
        }
        return field.pattern == null || field.pattern.matcher(text).find();
    }
}

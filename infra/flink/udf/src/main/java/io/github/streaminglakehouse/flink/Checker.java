package io.github.streaminglakehouse.flink;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.StreamReadConstraints;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.StreamReadFeature;

/**
 * The bronze path's rules for one Kafka record (assets/bronze/transform.py, Transform), in Java, so the Flink
 * pipelines quarantine exactly what bronze quarantines, in the same order of checks:
 * <ol>
 *   <li>a null value (tombstone); more bytes than the limit (oversized); not UTF-8;</li>
 *   <li>text topics: a NUL character; JSON topics: malformed JSON; not an object;</li>
 *   <li>the schema (as msgspec decodes it): the first field, in the payload's order, of the wrong type or
 *       failing a constraint, else the first required field missing; a schema column given twice or a NUL
 *       character in any string is named instead when there is one;</li>
 *   <li>a reserved field (processed_at, _kafka); a schema column given twice; a NUL character in any string;</li>
 *   <li>the event time: the timestamp grammar, a real date and time, within the range every reader handles.</li>
 * </ol>
 * The payload is parsed once, by Jackson's streaming parser over the raw bytes. Reasons use the bronze path's words,
 * except the detail after "malformed JSON: " (Jackson's, not msgspec's). tests/test_flink_udf.py sends the same
 * payloads through both and compares the decisions.
 */
final class Checker {

    static final String[] RESERVED = {"processed_at", "_kafka"};
    private static final int PLAIN = 0;
    private static final int ESCAPED = 1; // holds a \\u escape: only then can a string hide NUL or half a surrogate
    private static final int NOT_ASCII = 2;
    // DuckDB's read_json refuses a longer line (transform.MAX_LINE_BYTES): the bound on top of max_message_bytes.
    static final int MAX_LINE_BYTES = 16 * 1024 * 1024 - 64 * 1024;

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(JsonFactory.Feature.INTERN_FIELD_NAMES) // names compared by identity (slot())
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNumberLength(Integer.MAX_VALUE).maxStringLength(Integer.MAX_VALUE).build())
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER) // correctly rounded, as Double.parseDouble
            .build();

    final Schema schema; // null: a JSON topic without a schema
    final String[] wanted; // the schema's fields first, then the other fields the caller reads
    private final boolean[] text; // whether a string in wanted[i] is read (else only its kind matters)
    private final int limit;
    private int scanned; // what the last beforeParsing() found: PLAIN, ESCAPED or NOT_ASCII

    Checker(Schema schema, String[] extra, int maxMessageBytes) {
        this.schema = schema;
        List<String> names = new ArrayList<>(schema == null ? List.of() : List.of(schema.fields));
        for (String name : extra) {
            if (!names.contains(name)) {
                names.add(name);
            }
        }
        this.wanted = names.toArray(new String[0]);
        text = new boolean[wanted.length];
        for (int i = 0; i < wanted.length; i++) {
            wanted[i] = wanted[i].intern();
            text[i] = schema == null || i >= schema.fields.length || schema.needsText(i)
                    || List.of(extra).contains(wanted[i]);
        }
        this.limit = Math.min(maxMessageBytes, MAX_LINE_BYTES);
    }

    /** Why a record of a text topic cannot be used, or null. */
    String checkText(byte[] value) {
        String reason = beforeParsing(value);
        if (reason == null && indexOf(value, (byte) 0) >= 0) {
            reason = "NUL character: the line holds \\u0000, which Postgres text cannot store";
        }
        return reason;
    }

    /**
     * Why a record of a JSON topic cannot be used, or null; then found[i] holds wanted[i]'s value (null when
     * absent) and, with a schema that has an event time, eventMicros[0] its instant in epoch microseconds.
     */
    String check(byte[] value, Value[] found, long[] eventMicros) {
        String reason = beforeParsing(value);
        if (reason != null) {
            return reason;
        }
        if (value.length >= 3 && value[0] == (byte) 0xEF && value[1] == (byte) 0xBB && value[2] == (byte) 0xBF) {
            return "malformed JSON: a byte order mark before the value"; // Jackson would skip it, Python does not
        }
        Parse parse = new Parse(found, scanned != PLAIN);
        try (JsonParser parser = JSON.createParser(value)) {
            reason = parse.run(parser);
        } catch (JsonProcessingException e) {
            return "malformed JSON: " + e.getOriginalMessage();
        } catch (IOException e) {
            return "malformed JSON: " + e.getMessage();
        }
        if (parse.loneSurrogate) {
            return "malformed JSON: a \\u escape of half a UTF-16 surrogate pair"; // Jackson keeps it, Python not
        }
        if (reason != null) {
            return reason;
        }
        String invalid = schema == null ? null : parse.violation != null ? parse.violation : schema.missing(found);
        String inspected = parse.duplicate != null ? parse.duplicate : parse.nul;
        if (invalid != null) {
            return inspected != null ? inspected : invalid; // a duplicate or a NUL explains more (as in bronze)
        }
        reason = parse.reserved();
        if (reason == null) {
            reason = inspected;
        }
        if (reason == null && schema != null && schema.eventTime >= 0) {
            reason = schema.eventTime(found[schema.eventTime], eventMicros);
        }
        return reason;
    }

    private String beforeParsing(byte[] value) {
        if (value == null) {
            return "empty value (tombstone)";
        }
        if (value.length > limit) {
            return "oversized: " + value.length + " bytes > " + limit;
        }
        scanned = scan(value);
        return scanned == NOT_ASCII ? notUtf8(value) : null;
    }

    /** NOT_ASCII, else ESCAPED when a backslash precedes a 'u', else PLAIN; eight bytes at a time. */
    private static int scan(byte[] value) {
        long high = 0; // the top bit of any byte
        boolean backslash = false;
        int i = 0;
        for (; i + 8 <= value.length; i += 8) {
            long word = (long) LONGS.get(value, i);
            long x = word ^ 0x5C5C5C5C5C5C5C5CL; // a zero byte where there was a backslash
            high |= word;
            backslash |= ((x - 0x0101010101010101L) & ~x & 0x8080808080808080L) != 0;
        }
        for (; i < value.length; i++) {
            high |= value[i];
            backslash |= value[i] == '\\';
        }
        if ((high & 0x8080808080808080L) != 0 || high < 0) {
            return NOT_ASCII;
        }
        for (int j = 0; backslash && j + 1 < value.length; j++) {
            if (value[j] == '\\' && value[j + 1] == 'u') {
                return ESCAPED;
            }
        }
        return PLAIN;
    }

    /** Why `value` is not UTF-8 text, or null when it is. */
    static String notUtf8Reason(byte[] value) {
        for (byte b : value) {
            if (b < 0) {
                return notUtf8(value);
            }
        }
        return null;
    }

    private static String notUtf8(byte[] value) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value));
            return null;
        } catch (CharacterCodingException e) {
            return "value is not UTF-8 text (invalid utf-8 byte sequence)";
        }
    }

    private static int indexOf(byte[] value, byte wanted) {
        for (int i = 0; i < value.length; i++) {
            if (value[i] == wanted) {
                return i;
            }
        }
        return -1;
    }

    /** The index of `name` in `wanted`, or -1: Jackson interns the names it reads, as `wanted` is. */
    private int slot(String name) {
        for (int i = 0; i < wanted.length; i++) {
            if (wanted[i] == name) {
                return i;
            }
        }
        return -1;
    }

    private static int indexOf(String[] names, String name) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(name)) {
                return i;
            }
        }
        return -1;
    }

    private static String pythonType(JsonToken token) {
        switch (token) {
            case START_ARRAY: return "array";
            case VALUE_STRING: return "str";
            case VALUE_NUMBER_INT: return "int";
            case VALUE_NUMBER_FLOAT: return "float";
            case VALUE_TRUE:
            case VALUE_FALSE: return "bool";
            default: return "null";
        }
    }

    /** One pass over one payload: the top-level fields, and what the checks after decoding need. */
    private final class Parse {
        final Value[] found;
        final boolean inspectStrings; // read every string to find a NUL character or a lone surrogate
        boolean loneSurrogate;
        final boolean[] reservedSeen = new boolean[RESERVED.length];
        final int[] seen;
        String violation; // the first schema violation in the payload's order
        String duplicate;
        String nul;

        Parse(Value[] found, boolean inspectStrings) {
            this.found = found;
            this.inspectStrings = inspectStrings;
            this.seen = new int[found.length];
        }

        String run(JsonParser parser) throws IOException {
            JsonToken root = parser.nextToken();
            if (root == null) {
                return "malformed JSON: empty document";
            }
            if (root != JsonToken.START_OBJECT) {
                skip(parser, null);
                end(parser);
                return "JSON value is not an object (Expected `object`, got `" + pythonType(root) + "`)";
            }
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                inspect(name, name);
                JsonToken valueToken = parser.nextToken();
                int slot = slot(name);
                if (slot >= 0) {
                    Value value = read(parser, valueToken, name, text[slot]);
                    found[slot] = value;
                    if (++seen[slot] == 2 && slot < (schema == null ? 0 : schema.fields.length) && duplicate == null) {
                        duplicate = "duplicate field: ['" + name + "'] appear more than once, "
                                + "so readers would disagree on the value";
                    }
                    if (schema != null && slot < schema.fields.length && violation == null) {
                        violation = schema.violation(slot, value);
                    }
                } else {
                    skip(parser, name);
                }
                int reserved = indexOf(RESERVED, name);
                if (reserved >= 0) {
                    reservedSeen[reserved] = true;
                }
            }
            if (token != JsonToken.END_OBJECT) {
                return "malformed JSON: unexpected " + token;
            }
            end(parser);
            return null;
        }

        String reserved() {
            List<String> names = new ArrayList<>(0);
            for (int i = 0; i < RESERVED.length; i++) {
                if (reservedSeen[i]) {
                    names.add("'" + RESERVED[i] + "'");
                }
            }
            return names.isEmpty() ? null : "payload uses reserved field(s) [" + String.join(", ", names) + "]";
        }

        private void end(JsonParser parser) throws IOException {
            if (parser.nextToken() != null) {
                throw new IOException("trailing characters after the JSON value");
            }
        }

        private Value read(JsonParser parser, JsonToken token, String field, boolean wantText) throws IOException {
            switch (token) {
                case VALUE_STRING:
                    if (!wantText && !inspectStrings) {
                        return new Value(token, null, 0); // a string, which is all the checks ask of it
                    }
                    String string = parser.getText();
                    inspect(field, string);
                    return new Value(token, string, 0);
                case VALUE_NUMBER_INT:
                case VALUE_NUMBER_FLOAT:
                    return new Value(token, null, parser.getDoubleValue());
                case START_OBJECT:
                case START_ARRAY:
                    skip(parser, field);
                    return new Value(token, null, 0);
                default:
                    return new Value(token, parser.getText(), 0);
            }
        }

        /** Skip the value the parser is at (validating it); read its strings when looking for NUL characters. */
        private void skip(JsonParser parser, String field) throws IOException {
            JsonToken token = parser.currentToken();
            if (!inspectStrings) {
                parser.skipChildren();
                return;
            }
            if (token == JsonToken.VALUE_STRING) {
                inspect(field, parser.getText());
                return;
            }
            if (!token.isStructStart()) {
                return;
            }
            int depth = 1;
            while (depth > 0) {
                token = parser.nextToken();
                if (token == null) {
                    throw new IOException("unexpected end of input");
                }
                if (token.isStructStart()) {
                    depth++;
                } else if (token.isStructEnd()) {
                    depth--;
                } else if (token == JsonToken.FIELD_NAME || token == JsonToken.VALUE_STRING) {
                    inspect(field, parser.getText());
                }
            }
        }

        /** Look for what only an escape can put in a string: NUL, half a surrogate pair. */
        private void inspect(String field, String text) {
            if (!inspectStrings) {
                return;
            }
            if (nul == null && text.indexOf('\0') >= 0) {
                nul = "NUL character: field '" + field + "' holds \\u0000, which Postgres text cannot store";
            }
            for (int i = 0; i < text.length() && !loneSurrogate; i++) {
                char c = text.charAt(i);
                boolean paired = i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1));
                if (Character.isHighSurrogate(c) && paired) {
                    i++;
                } else if (Character.isSurrogate(c)) {
                    loneSurrogate = true;
                }
            }
        }
    }
}

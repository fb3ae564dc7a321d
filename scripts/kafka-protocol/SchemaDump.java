// Prints, as JSON on stdout, the wire layout of every Kafka API request and response at every
// version the kafka-clients jar on the class path knows, read from that jar's own schemas (the
// ones the broker and the Java clients serialize with). generate.ts turns the dumps of several
// Kafka versions into the Kafka parser's protocol table. Run: see README.md beside this file.
import java.util.Map;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.types.ArrayOf;
import org.apache.kafka.common.protocol.types.BoundField;
import org.apache.kafka.common.protocol.types.CompactArrayOf;
import org.apache.kafka.common.protocol.types.Field;
import org.apache.kafka.common.protocol.types.Schema;
import org.apache.kafka.common.protocol.types.TaggedFields;
import org.apache.kafka.common.protocol.types.Type;

public class SchemaDump {
  public static void main(String[] args) {
    StringBuilder out = new StringBuilder("{\"apis\":[\n");
    boolean firstApi = true;
    for (ApiKeys key : ApiKeys.values()) {
      if (key.oldestVersion() > key.latestVersion(true)) continue; // removed APIs (LeaderAndIsr in 4.x)
      if (!firstApi) out.append(",\n");
      firstApi = false;
      out.append("{\"key\":").append(key.id).append(",\"name\":\"").append(key.name).append("\",\"versions\":[");
      Schema[] requests = key.messageType.requestSchemas();
      Schema[] responses = key.messageType.responseSchemas();
      boolean firstVersion = true;
      for (short v = key.oldestVersion(); v <= key.latestVersion(true); v++) {
        if (v >= requests.length || requests[v] == null) continue;
        if (!firstVersion) out.append(",");
        firstVersion = false;
        out.append("\n {\"version\":").append(v)
          .append(",\"requestHeader\":").append(key.requestHeaderVersion(v))
          .append(",\"responseHeader\":").append(key.responseHeaderVersion(v))
          .append(",\"request\":");
        struct(out, requests[v]);
        out.append(",\"response\":");
        struct(out, responses[v]);
        out.append("}");
      }
      out.append("]}");
    }
    out.append("\n]}\n");
    System.out.print(out);
  }

  private static void struct(StringBuilder out, Schema schema) {
    out.append("[");
    boolean first = true;
    for (BoundField bound : schema.fields()) {
      if (!first) out.append(",");
      first = false;
      field(out, bound.def.name, bound.def.type);
    }
    out.append("]");
  }

  private static void field(StringBuilder out, String name, Type type) {
    out.append("{\"name\":\"").append(name).append("\",");
    type(out, type);
    out.append("}");
  }

  // TaggedFields.fields() is public only from 4.x; the map behind it is the same in 3.x.
  @SuppressWarnings("unchecked")
  private static Map<Integer, Field> taggedFields(TaggedFields tagged) {
    try {
      java.lang.reflect.Field map = TaggedFields.class.getDeclaredField("fields");
      map.setAccessible(true);
      return (Map<Integer, Field>) map.get(tagged);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot read the tagged fields of " + tagged, e);
    }
  }

  private static void type(StringBuilder out, Type type) {
    if (type instanceof TaggedFields) {
      out.append("\"type\":\"TAGGED_FIELDS\",\"tags\":[");
      boolean first = true;
      for (Map.Entry<Integer, Field> tag : taggedFields((TaggedFields) type).entrySet()) {
        if (!first) out.append(",");
        first = false;
        out.append("{\"tag\":").append(tag.getKey()).append(",\"field\":");
        field(out, tag.getValue().name, tag.getValue().type);
        out.append("}");
      }
      out.append("]");
    } else if (type instanceof ArrayOf || type instanceof CompactArrayOf) {
      boolean compact = type instanceof CompactArrayOf;
      boolean nullable = compact ? ((CompactArrayOf) type).isNullable() : ((ArrayOf) type).isNullable();
      out.append("\"type\":\"").append(compact ? "COMPACT_ARRAY" : "ARRAY").append("\",\"nullable\":").append(nullable).append(",\"element\":{");
      type(out, type.arrayElementType().get());
      out.append("}");
    } else if (type.getClass().getSimpleName().equals("NullableSchema")) { // 4.x only, hence by name
      out.append("\"type\":\"STRUCT\",\"nullable\":true,\"fields\":");
      struct(out, (Schema) type);
    } else if (type instanceof Schema) {
      out.append("\"type\":\"STRUCT\",\"nullable\":false,\"fields\":");
      struct(out, (Schema) type);
    } else {
      out.append("\"type\":\"").append(type.toString()).append("\"");
    }
  }
}

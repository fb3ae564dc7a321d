// Kafka's own (de)serializers as a test oracle for Weir's Kafka filter, run on the installed
// kafka-clients jar. Two modes, one line per message, hex frames with their INT32 size prefix:
//   requests:  prints "<key> <version> <hex>" for a request of every API key at every version the
//              jar knows (each message with its default field values, client id "oracle",
//              correlation id key*1000+version), as a Java client would serialize it;
//   responses: reads "<key> <version> <correlation id> <hex>" lines from stdin and prints
//              "ok <key> <version> <error counts>" when the Java client would accept the frame as
//              the response to that request (header, correlation id, body, nothing left over),
//              else "fail <key> <version> <why>".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ResponseHeader;

public class KafkaWireOracle {
  public static void main(String[] args) throws Exception {
    if (args.length == 1 && args[0].equals("requests")) requests();
    else if (args.length == 1 && args[0].equals("responses")) responses();
    else {
      System.err.println("usage: KafkaWireOracle requests|responses");
      System.exit(2);
    }
  }

  private static void requests() {
    StringBuilder out = new StringBuilder();
    for (ApiKeys key : ApiKeys.values()) {
      for (short v = key.oldestVersion(); v <= key.latestVersion(true); v++) {
        try {
          ApiMessage body = key.messageType.newRequest();
          RequestHeaderData header = new RequestHeaderData().setRequestApiKey(key.id).setRequestApiVersion(v).setCorrelationId(key.id * 1000 + v).setClientId("oracle");
          short headerVersion = key.requestHeaderVersion(v);
          ObjectSerializationCache cache = new ObjectSerializationCache();
          int size = header.size(cache, headerVersion) + body.size(cache, v);
          ByteBuffer buffer = ByteBuffer.allocate(4 + size);
          buffer.putInt(size);
          ByteBufferAccessor writer = new ByteBufferAccessor(buffer);
          header.write(writer, cache, headerVersion);
          body.write(writer, cache, v);
          out.append(key.id).append(' ').append(v).append(' ').append(hex(buffer.array())).append('\n');
        } catch (RuntimeException e) {
          out.append("skip ").append(key.id).append(' ').append(v).append(' ').append(e.getClass().getSimpleName()).append('\n');
        }
      }
    }
    System.out.print(out);
  }

  private static void responses() throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    StringBuilder out = new StringBuilder();
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isEmpty()) continue;
      String[] parts = line.split(" ");
      short keyId = Short.parseShort(parts[0]);
      short version = Short.parseShort(parts[1]);
      int correlationId = Integer.parseInt(parts[2]);
      try {
        ApiKeys key = ApiKeys.forId(keyId);
        ByteBuffer frame = ByteBuffer.wrap(unhex(parts[3]));
        int size = frame.getInt();
        if (size != frame.remaining()) throw new IllegalStateException("size " + size + " but " + frame.remaining() + " bytes follow");
        ResponseHeader header = ResponseHeader.parse(frame, key.responseHeaderVersion(version));
        if (header.correlationId() != correlationId) throw new IllegalStateException("correlation id " + header.correlationId() + ", expected " + correlationId);
        AbstractResponse response = AbstractResponse.parseResponse(key, new ByteBufferAccessor(frame), version);
        if (frame.hasRemaining()) throw new IllegalStateException(frame.remaining() + " bytes after the body");
        out.append("ok ").append(keyId).append(' ').append(version).append(' ').append(response.errorCounts()).append('\n');
      } catch (Exception e) {
        out.append("fail ").append(keyId).append(' ').append(version).append(' ').append(e).append('\n');
      }
    }
    System.out.print(out);
  }

  private static String hex(byte[] bytes) {
    StringBuilder text = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) text.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    return text.toString();
  }

  private static byte[] unhex(String text) {
    byte[] bytes = new byte[text.length() / 2];
    for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
    return bytes;
  }
}

package io.obsync.testclient;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * show NAMESRV TOPIC WANT TIMEOUT_MS: what the demo prints, for a person: each message as the
 * consumer received it (queue, offset, key, tag) with its body indented.
 */
final class Show {
  private Show() {}

  static void run(String[] a) throws Exception {
    List<MessageExt> got = new ArrayList<>();
    Consume.consume(a, got::add);
    String topic = a[1];
    for (MessageExt m : got) {
      System.out.printf(
          "── topic %s · queue %d · offset %d · key %s · tag %s%n",
          topic, m.getQueueId(), m.getQueueOffset(), m.getKeys(), m.getTags());
      String body = new String(m.getBody() == null ? new byte[0] : m.getBody(), StandardCharsets.UTF_8);
      System.out.println(Json.pretty(body));
    }
    System.out.printf("%d message(s) received from %s%n", got.size(), topic);
  }
}

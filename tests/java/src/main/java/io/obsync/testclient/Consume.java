package io.obsync.testclient;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;

/**
 * consume NAMESRV TOPIC WANT TIMEOUT_MS: reads a topic from its first offset with an orderly push
 * consumer of a new group (what a user's ordered consumer is), printing one JSON line per message
 * as it is consumed: queue, offset, keys, tags, properties, body (UTF-8 text), store and born times.
 *
 * <p>Stops when WANT messages arrived and every message the broker stores for the topic at that
 * moment was received (so extras, duplicates, are seen too), or at TIMEOUT_MS. A redelivered
 * message (same queue and offset) is printed once.
 */
final class Consume {
  private Consume() {}

  private static final Object LOCK = new Object();
  private static final Set<Long> SEEN = new HashSet<>();

  static void run(String[] a) throws Exception {
    consume(
        a,
        m -> {
          System.out.println(line(m));
          System.out.flush();
        });
    synchronized (LOCK) {
      System.err.println(SEEN.size() + " message(s) received from " + a[1]);
    }
  }

  /** Consumes as described above, handing each new message to `sink` (under a lock, in order). */
  static void consume(String[] a, java.util.function.Consumer<MessageExt> sink) throws Exception {
    if (a.length != 4) {
      throw new IllegalArgumentException(Main.usage());
    }
    String namesrv = a[0];
    String topic = a[1];
    int want = Integer.parseInt(a[2]);
    long deadline = System.currentTimeMillis() + Long.parseLong(a[3]);
    RPCHook hook = Admin.aclHook();
    String group = "obsync_reader_" + ProcessHandle.current().pid() + "_" + System.nanoTime();
    DefaultMQPushConsumer consumer =
        hook == null ? new DefaultMQPushConsumer(group) : new DefaultMQPushConsumer(group, hook);
    consumer.setNamesrvAddr(namesrv);
    consumer.setInstanceName(group);
    consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
    consumer.setPullBatchSize(256);
    consumer.setConsumeMessageBatchMaxSize(256);
    consumer.setConsumeThreadMin(2);
    consumer.setConsumeThreadMax(4);
    // Messages cached ahead per queue, in MiB (default 100): wide rows (tests/big_rows.rs) would
    // otherwise fill the small test heap and leave the consumer collecting garbage.
    consumer.setPullThresholdSizeForQueue(16);
    consumer.subscribe(topic, "*");
    consumer.registerMessageListener(
        (MessageListenerOrderly)
            (msgs, ctx) -> {
              synchronized (LOCK) {
                for (MessageExt m : msgs) {
                  long id = ((long) m.getQueueId() << 40) ^ m.getQueueOffset();
                  if (SEEN.add(id)) {
                    sink.accept(m);
                  }
                }
                LOCK.notifyAll();
              }
              return ConsumeOrderlyStatus.SUCCESS;
            });
    consumer.start();
    while (System.currentTimeMillis() < deadline) {
      int got;
      synchronized (LOCK) {
        got = SEEN.size();
      }
      if (got >= want && got >= stored(consumer, topic)) {
        break;
      }
      synchronized (LOCK) {
        if (SEEN.size() == got) {
          LOCK.wait(100);
        }
      }
    }
  }

  /** Messages the broker holds for the topic now (sum over its queues). */
  private static long stored(DefaultMQPushConsumer consumer, String topic) {
    long total = 0;
    try {
      for (MessageQueue q : consumer.fetchSubscribeMessageQueues(topic)) {
        total += consumer.maxOffset(q) - consumer.minOffset(q);
      }
    } catch (Exception notYet) {
      return Long.MAX_VALUE;
    }
    return total;
  }

  static String line(MessageExt m) {
    StringBuilder b = new StringBuilder(256);
    b.append("{\"queue\":").append(m.getQueueId());
    b.append(",\"offset\":").append(m.getQueueOffset());
    b.append(",\"keys\":[");
    String keys = m.getKeys();
    if (keys != null && !keys.isEmpty()) {
      String[] parts = keys.split(" ");
      for (int i = 0; i < parts.length; i++) {
        if (i > 0) {
          b.append(',');
        }
        Json.string(b, parts[i]);
      }
    }
    b.append("],\"tags\":");
    if (m.getTags() == null) {
      b.append("null");
    } else {
      Json.string(b, m.getTags());
    }
    b.append(",\"properties\":{");
    boolean first = true;
    for (Map.Entry<String, String> e : new TreeMap<>(m.getProperties()).entrySet()) {
      if (!first) {
        b.append(',');
      }
      first = false;
      Json.string(b, e.getKey());
      b.append(':');
      Json.string(b, e.getValue());
    }
    b.append("},\"store_timestamp\":").append(m.getStoreTimestamp());
    b.append(",\"born_timestamp\":").append(m.getBornTimestamp());
    b.append(",\"offset_msg_id\":");
    String offsetMsgId =
        m instanceof MessageClientExt ? ((MessageClientExt) m).getOffsetMsgId() : m.getMsgId();
    Json.string(b, offsetMsgId == null ? "" : offsetMsgId);
    b.append(",\"body\":");
    Json.string(b, new String(m.getBody() == null ? new byte[0] : m.getBody(), StandardCharsets.UTF_8));
    b.append('}');
    return b.toString();
  }
}

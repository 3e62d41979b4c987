package io.obsync.testclient;

import java.util.ArrayList;
import java.util.List;
import org.apache.rocketmq.client.producer.selector.SelectMessageQueueByHash;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;

/** select-queue QUEUES KEY...: the queue the Java client's hash selector picks for each key. */
final class SelectQueue {
  private SelectQueue() {}

  static void run(String[] a) {
    if (a.length < 1) {
      throw new IllegalArgumentException(Main.usage());
    }
    int n = Integer.parseInt(a[0]);
    List<MessageQueue> queues = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      queues.add(new MessageQueue("t", "b", i));
    }
    SelectMessageQueueByHash selector = new SelectMessageQueueByHash();
    for (int i = 1; i < a.length; i++) {
      MessageQueue q = selector.select(queues, new Message(), a[i]);
      System.out.println(q.getQueueId());
    }
  }
}

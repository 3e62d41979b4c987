package io.obsync.testclient;

import java.nio.charset.StandardCharsets;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;

/**
 * send NAMESRV TOPIC BODY: one message sent by the Java producer, as a probe of what the broker
 * accepts now. Prints the send status, or {@code refused CODE REMARK} when the broker refuses it
 * (exit code 0 either way; other failures exit 1).
 */
final class Send {
  private Send() {}

  static void run(String[] a) throws Exception {
    if (a.length != 3) {
      throw new IllegalArgumentException(Main.usage());
    }
    DefaultMQProducer producer = new DefaultMQProducer("obsync_probe");
    producer.setNamesrvAddr(a[0]);
    producer.setInstanceName("obsync-probe-" + ProcessHandle.current().pid());
    producer.setRetryTimesWhenSendFailed(0);
    producer.start();
    try {
      SendResult r = producer.send(new Message(a[1], a[2].getBytes(StandardCharsets.UTF_8)));
      System.out.println(r.getSendStatus());
    } catch (MQBrokerException e) {
      System.out.println("refused " + e.getResponseCode() + " " + e.getErrorMessage());
    } catch (MQClientException e) {
      // The producer wraps the broker's answer once it gives up.
      if (e.getCause() instanceof MQBrokerException b) {
        System.out.println("refused " + b.getResponseCode() + " " + b.getErrorMessage());
      } else {
        throw e;
      }
    }
  }
}

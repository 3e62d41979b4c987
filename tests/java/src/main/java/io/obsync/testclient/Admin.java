package io.obsync.testclient;

import java.util.HashMap;
import java.util.Map;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/** Topic creation the way `mqadmin updateTopic` does it (the same admin class and call). */
final class Admin {
  private Admin() {}

  /** The ACL hook from the environment, or null without keys. */
  static RPCHook aclHook() {
    String ak = System.getenv("OBSYNC_JAVA_ACCESS_KEY");
    String sk = System.getenv("OBSYNC_JAVA_SECRET_KEY");
    if (ak == null || ak.isEmpty()) {
      return null;
    }
    return new AclClientRPCHook(new SessionCredentials(ak, sk == null ? "" : sk));
  }

  /** create-topic NAMESRV BROKER TOPIC QUEUES [KEY=VALUE...]: attributes such as +message.type=FIFO. */
  static void createTopic(String[] a) throws Exception {
    if (a.length < 4) {
      throw new IllegalArgumentException(Main.usage());
    }
    String namesrv = a[0];
    String broker = a[1];
    String topic = a[2];
    int queues = Integer.parseInt(a[3]);
    Map<String, String> attributes = new HashMap<>();
    for (int i = 4; i < a.length; i++) {
      int eq = a[i].indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("attribute " + a[i] + " is not KEY=VALUE");
      }
      attributes.put(a[i].substring(0, eq), a[i].substring(eq + 1));
    }
    RPCHook hook = aclHook();
    DefaultMQAdminExt admin = hook == null ? new DefaultMQAdminExt() : new DefaultMQAdminExt(hook);
    admin.setNamesrvAddr(namesrv);
    admin.setInstanceName("obsync-admin-" + ProcessHandle.current().pid());
    admin.start();
    TopicConfig config = new TopicConfig(topic, queues, queues);
    config.setAttributes(attributes);
    admin.createAndUpdateTopicConfig(broker, config);
    // Created when the name server serves its route (what a producer asks for first).
    long deadline = System.currentTimeMillis() + 20_000;
    while (true) {
      try {
        TopicRouteData route = admin.examineTopicRouteInfo(topic);
        if (route != null && !route.getQueueDatas().isEmpty()) {
          break;
        }
      } catch (Exception notYet) {
        if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException("topic " + topic + " not visible on the name server after creation", notYet);
        }
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("topic " + topic + " not visible on the name server after creation");
      }
      Thread.sleep(50);
    }
    System.out.println("created topic " + topic + " with " + queues + " queues on " + broker);
  }
}

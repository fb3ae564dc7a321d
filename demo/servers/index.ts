// The real servers Weir's demos and tests run against, as processes: what the project's set-up
// calls to install them and what tests and demos call to start them.
export { installCassandra, CASSANDRA_VERSION, type CassandraInstallation, type InstallCassandraOptions } from './cassandra/install.ts';
export { startCassandra, type RunningCassandra, type StartCassandraOptions } from './cassandra/runner.ts';
export { installCqlsh, runCqlsh, cqlshBinary, type CqlshResult, type CqlshRun, type InstallCqlshOptions } from './cassandra/cqlsh.ts';
export { cqlHandshake, type CqlHandshake } from './cassandra/cql-handshake.ts';
export { installMemcached, startMemcached, type RunningMemcached, type StartMemcachedOptions, type InstallMemcachedOptions } from './memcached.ts';
export { installDebianPackages, type DebianInstall } from './debian-packages.ts';
export { installKubeBinaries, kubeBinary, requireKubeBinary, KUBERNETES_VERSION, ETCD_VERSION, type KubeBinaryName } from './kubernetes/install.ts';
export { startEtcd, type RunningEtcd, type StartEtcdOptions } from './kubernetes/etcd.ts';
export { startKubeApiserver, kubeconfigText, type RunningKubeApiserver, type StartKubeApiserverOptions, type KubeUser } from './kubernetes/kube-apiserver.ts';
export { kubectl, type KubectlResult } from './kubernetes/kubectl.ts';
export { installKafka, KAFKA_VERSION, type KafkaInstallation, type InstallKafkaOptions } from './kafka/install.ts';
export { startKafka, type RunningKafka, type StartKafkaOptions } from './kafka/runner.ts';

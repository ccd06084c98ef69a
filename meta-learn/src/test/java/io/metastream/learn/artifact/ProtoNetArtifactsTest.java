package io.metastream.learn.artifact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.SequentialBlock;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStoreException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProtoNetArtifactsTest {
    @Test
    void shouldStoreAProtoNetExactlyAndRefuseToServeItInTheStream(@TempDir Path dir) {
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        byte[] embedding;
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            embedding = ConvEmbedding.write(block);
        }
        ModelManifest published = BaseModelArtifacts.publishProtoNet(store, "omniglot", embedding,
                Map.of("test_alphabets", List.of("Greek")));
        assertThat(published.learner()).isEqualTo("protonet");
        assertThat(published.architecture()).isEqualTo("conv4");
        assertThat(published.inputShape()).containsExactly(1, 28, 28);

        BaseModelArtifacts.ProtoNetArtifact loaded = BaseModelArtifacts.loadProtoNet(store, "omniglot",
                published.version());
        assertThat(loaded.embedding()).isEqualTo(embedding);
        assertThat(loaded.manifest().provenance()).containsEntry("test_alphabets", List.of("Greek"));
        assertThatThrownBy(() -> BaseModelArtifacts.load(store, "omniglot", published.version()))
                .isInstanceOf(ModelStoreException.class)
                .hasMessageContaining("learner protonet is served offline only (train/eval), not in the stream yet");
    }
}

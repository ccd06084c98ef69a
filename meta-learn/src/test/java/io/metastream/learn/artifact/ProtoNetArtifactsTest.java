package io.metastream.learn.artifact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.SequentialBlock;
import io.metastream.learn.BaseModel;
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
    void shouldStoreAProtoNetExactlyAndLoadItAsAServedBase(@TempDir Path dir) {
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
        BaseModel served = BaseModelArtifacts.load(store, "omniglot", published.version());
        assertThat(served.learner()).isEqualTo("protonet");
        assertThat(served.classifies()).isTrue();
        assertThat(served.inputDim()).isEqualTo(28 * 28);
        assertThat(served.embedding()).isEqualTo(embedding);
        assertThat(served.architecture()).isNull();
    }

    @Test
    void shouldRefuseAProtoNetWhoseEmbeddingFileIsTorn(@TempDir Path dir) {
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        byte[] embedding;
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            embedding = ConvEmbedding.write(block);
        }
        // A torn file whose checksum is the manifest's: what a writer that lost its tail published.
        byte[] torn = java.util.Arrays.copyOf(embedding, embedding.length / 2);
        ModelManifest published = BaseModelArtifacts.publishProtoNet(store, "omniglot", torn, Map.of());
        assertThatThrownBy(() -> BaseModelArtifacts.load(store, "omniglot", published.version()))
                .isInstanceOf(ModelStoreException.class).hasMessageContaining("embedding.mse");
    }
}
